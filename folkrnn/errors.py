"""The one exception type the package raises for problems a user can fix."""


class FolkRNNError(Exception):
    """A problem with the user's input or environment, with a message that names the fix.

    The CLI prints the message (no traceback) and exits with status 1; notebooks show it as is.
    """
