"""The one exception type users see.

Every failure a user can act on (a broken stack file, a port already taken, a cluster that
will not start) is raised as :class:`SupastackError` with a message that names the file, key,
port or resource at fault. The CLI prints the message without a traceback and exits non-zero.
"""


class SupastackError(Exception):
    """A failure the user can fix; the message says where and what."""


def first_line(exc: BaseException) -> str:
    """The first line of an error (libpq's add hints on later lines), for messages that already
    say where it happened."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
