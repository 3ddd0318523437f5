"""Messages between the reloader's processes: one JSON object a line over
a pipe or a socket, read without blocking from a selector loop."""

import json
import os

__all__ = ["Channel"]


class Channel:
    """One end: ``send(op, **fields)`` writes a line, ``receive()`` the
    messages that have arrived (None once the other end has closed)."""

    def __init__(self, read_fd=None, write_fd=None):
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._buffer = b""
        if read_fd is not None:
            os.set_blocking(read_fd, False)

    def fileno(self):
        return self.read_fd

    def send(self, op, **fields):
        """Write one message; False when the other end has gone (the process
        that reads it has exited: nothing is left to tell)."""
        data = json.dumps({"op": op, **fields}).encode() + b"\n"
        view = memoryview(data)
        try:
            while view:  # blocking writes: a report of a thousand modules may fill the pipe
                view = view[os.write(self.write_fd, view):]
        except OSError:  # EPIPE, or closed here
            return False
        return True

    def receive(self):
        try:
            data = os.read(self.read_fd, 1 << 16)
        except BlockingIOError:
            return []
        if not data:
            return None
        lines = (self._buffer + data).split(b"\n")
        self._buffer = lines.pop()
        return [json.loads(line) for line in lines if line]

    def close(self):
        for fd in {self.read_fd, self.write_fd} - {None}:
            try:
                os.close(fd)
            except OSError:
                pass
