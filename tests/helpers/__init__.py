"""Test helpers shared by every area: an HTTP receiver, a frame-queue harness and a source
test template. Real sockets and real services only; nothing here fakes a part."""
