"""The one exception type users see.

Every failure a user can act on (a broken stack file, a port already taken, a cluster that
will not start) is raised as :class:`SupastackError` with a message that names the file, key,
port or resource at fault. The CLI prints the message without a traceback and exits non-zero.
"""


class SupastackError(Exception):
    """A failure the user can fix; the message says where and what."""
