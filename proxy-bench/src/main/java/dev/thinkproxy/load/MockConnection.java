package dev.thinkproxy.load;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * One connection of the mock upstream, driven by its event loop: reads a request, answers it, and for a stream
 * writes one event at a time. At most one event is buffered: the next is built only when the socket has taken
 * the previous one, so a slow reader holds the stream back instead of growing memory.
 */
final class MockConnection implements EventLoop.Handler {
  enum State { REQUEST, BODY, RESPONSE, STREAM, STALLED, CLOSED }

  private static final int HEAD_LIMIT = 64 * 1024;
  private static final long MAX_BODY = 64L << 20;
  /** Bytes written per turn before the other connections get theirs. */
  private static final int WRITE_BUDGET = 64 * 1024;

  private final MockUpstream server;
  private final SocketChannel channel;
  private final SelectionKey key;
  private final HttpHead.Reader headReader = new HttpHead.Reader(HEAD_LIMIT);
  private State state = State.REQUEST;
  private long bodyRemaining;
  private boolean closeAfterResponse;
  private ByteBuffer out;

  private StreamSpec spec;
  private MockEvents events;
  private SplittableRandom random;
  private int nextEvent;
  private long nextDue;
  private boolean garbageSent;
  private boolean resetWhenDrained;
  private boolean timerPending;

  MockConnection(MockUpstream server, SocketChannel channel) throws IOException {
    this.server = server;
    this.channel = channel;
    this.key = channel.register(server.loop().selector(), SelectionKey.OP_READ, this);
  }

  State state() {
    return state;
  }

  /** Open and waiting for a request that has not begun to arrive. */
  boolean idle() {
    return state == State.REQUEST && !headReader.started();
  }

  @Override
  public void ready(SelectionKey k) throws IOException {
    if (k.isReadable()) {
      read();
    }
    if (state != State.CLOSED && k.isValid() && k.isWritable()) {
      pump();
    }
  }

  @Override
  public void failed(Exception e) {
    if (state == State.STREAM) {
      server.streamClientClosed();
    }
    close(false);
  }

  private void read() throws IOException {
    ByteBuffer buf = server.readBuffer();
    buf.clear();
    int n = channel.read(buf);
    if (n < 0) {
      if (state == State.STREAM) {
        server.streamClientClosed();
      }
      close(false);
      return;
    }
    int off = 0;
    while (off < n && (state == State.REQUEST || state == State.BODY)) {
      if (state == State.REQUEST) {
        off += headReader.feed(buf.array(), off, n - off);
        if (headReader.head() != null) {
          startRequest(headReader.head());
        }
      } else {
        int take = (int) Math.min(bodyRemaining, n - off);
        bodyRemaining -= take;
        off += take;
      }
      if (state == State.BODY && bodyRemaining == 0) {
        respond(headReader.head());
      }
    }
    // Bytes that arrive while answering (a pipelined request) are dropped: the clients here never pipeline.
  }

  private void startRequest(HttpHead head) throws IOException {
    server.requestReceived();
    closeAfterResponse = !head.startLine().endsWith("HTTP/1.1") || head.headerHasToken("Connection", "close");
    if (head.chunked()) {
      closeAfterResponse = true;
      sendFixed(411, "{\"error\":{\"message\":\"chunked request bodies are not supported\"}}");
      return;
    }
    long length = head.contentLength();
    if (length > MAX_BODY) {
      closeAfterResponse = true;
      sendFixed(413, "{\"error\":{\"message\":\"body too large\"}}");
      return;
    }
    bodyRemaining = Math.max(0, length);
    state = State.BODY;
  }

  private void respond(HttpHead head) throws IOException {
    String[] parts = head.startLine().split(" ");
    String method = parts[0];
    URI target = URI.create(parts.length > 1 ? parts[1] : "/");
    String path = target.getRawPath() == null ? "" : target.getRawPath();
    if (method.equals("POST") && path.endsWith("/chat/completions")) {
      try {
        startStream(StreamSpec.fromQuery(target.getRawQuery()));
      } catch (IllegalArgumentException e) {
        sendFixed(400, "{\"error\":{\"message\":\"" + e.getMessage().replace("\"", "'") + "\"}}");
      }
    } else if (method.equals("GET") && path.endsWith("/v1/models")) {
      sendFixed(200, "{\"object\":\"list\",\"data\":[{\"id\":\"mock-model\",\"object\":\"model\","
          + "\"created\":1700000000,\"owned_by\":\"thinkproxy\"}]}");
    } else if (method.equals("GET") && path.equals("/stats")) {
      sendFixed(200, server.snapshotExcluding(this).toJson());
    } else {
      sendFixed(404, "{\"error\":{\"message\":\"no such route\"}}");
    }
  }

  private void sendFixed(int status, String json) throws IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    byte[] head = ("HTTP/1.1 " + status + " " + reason(status) + "\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + body.length + "\r\n" + (closeAfterResponse ? "Connection: close\r\n" : "") + "\r\n")
        .getBytes(StandardCharsets.US_ASCII);
    out = ByteBuffer.allocate(head.length + body.length).put(head).put(body).flip();
    state = State.RESPONSE;
    pump();
  }

  private void startStream(StreamSpec s) throws IOException {
    long id = server.streamStarted();
    spec = s;
    events = new MockEvents(s, id);
    random = new SplittableRandom(id);
    nextEvent = 0;
    garbageSent = false;
    nextDue = System.nanoTime() + s.firstDelayMs() * 1_000_000;
    out = ByteBuffer.wrap(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        + "Transfer-Encoding: chunked\r\n" + (closeAfterResponse ? "Connection: close\r\n" : "") + "\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    state = State.STREAM;
    pump();
  }

  /** Writes what is buffered, then builds and writes the next events until one is not due or the socket is full. */
  private void pump() throws IOException {
    int budget = WRITE_BUDGET;
    while (state != State.CLOSED) {
      if (out != null && out.hasRemaining()) {
        int n;
        try {
          n = channel.write(out);
        } catch (IOException e) {
          failed(e);
          return;
        }
        budget -= n;
        if (out.hasRemaining()) {
          interest(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
          return;
        }
      }
      out = null;
      if (resetWhenDrained) {
        close(true);
        return;
      }
      if (budget <= 0) {
        // Come back on the next turn of the loop; the socket is still writable.
        interest(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
        return;
      }
      interest(SelectionKey.OP_READ);
      if (state == State.RESPONSE) {
        responseDone();
        return;
      }
      if (state != State.STREAM || !produceNext()) {
        return;
      }
    }
  }

  /** Buffers the next bytes of the stream; false when there is nothing to write now. */
  private boolean produceNext() {
    if (nextEvent == spec.totalEvents()) {
      out = ByteBuffer.wrap(MockEvents.TERMINATOR);
      server.streamCompleted();
      state = State.RESPONSE;
      return true;
    }
    long now = System.nanoTime();
    if (nextDue - now > 0) {
      if (!timerPending) {
        timerPending = true;
        server.loop().schedule(nextDue, this::timerFired);
      }
      return false;
    }
    StreamSpec.Fault fault = spec.fault();
    if (fault != null && fault.at() == nextEvent && fireFault(fault)) {
      return out != null;
    }
    out = ByteBuffer.wrap(events.frame(nextEvent));
    nextEvent++;
    if (nextEvent >= 1 && nextEvent <= spec.chunks()) {
      long delay = spec.delayMs() * 1_000_000;
      // Keep the cadence when a turn of the loop was a little late, but never burst to catch up.
      nextDue = (now - nextDue < delay ? nextDue : now) + delay;
    }
    return true;
  }

  /** Applies the fault; false when the event is to be sent as usual (a garbage line that already went out). */
  private boolean fireFault(StreamSpec.Fault fault) {
    switch (fault.kind()) {
      case RESET -> {
        server.streamFaulted();
        close(true);
      }
      case TRUNCATE -> {
        server.streamFaulted();
        close(false);
      }
      case STALL -> {
        server.streamFaulted();
        state = State.STALLED;
      }
      case PARTIAL -> {
        server.streamFaulted();
        byte[] frame = events.frame(nextEvent);
        out = ByteBuffer.wrap(frame, 0, frame.length / 2);
        resetWhenDrained = true;
        state = State.STALLED;
      }
      case GARBAGE -> {
        if (garbageSent) {
          return false;
        }
        garbageSent = true;
        out = ByteBuffer.wrap(MockEvents.garbageFrame(random));
      }
      case BIGLINE -> {
        return false;
      }
      default -> throw new IllegalStateException(fault.kind().name());
    }
    return true;
  }

  private void timerFired() {
    timerPending = false;
    if (state != State.STREAM) {
      return;
    }
    try {
      pump();
    } catch (IOException | RuntimeException e) {
      failed(e);
    }
  }

  private void responseDone() {
    if (closeAfterResponse) {
      close(false);
      return;
    }
    state = State.REQUEST;
    headReader.reset();
    spec = null;
    events = null;
  }

  private void interest(int ops) {
    if (key.isValid() && key.interestOps() != ops) {
      key.interestOps(ops);
    }
  }

  /** Closes the connection; {@code reset} sends an RST (SO_LINGER 0) instead of a FIN. */
  void close(boolean reset) {
    if (state == State.CLOSED) {
      return;
    }
    state = State.CLOSED;
    server.connectionClosed(this);
    try {
      if (reset) {
        channel.setOption(StandardSocketOptions.SO_LINGER, 0);
      }
      channel.close();
    } catch (IOException ignored) {
      // the peer may already be gone; the connection is released either way
    }
  }

  private static String reason(int status) {
    return switch (status) {
      case 200 -> "OK";
      case 400 -> "Bad Request";
      case 404 -> "Not Found";
      case 411 -> "Length Required";
      case 413 -> "Content Too Large";
      default -> "Status";
    };
  }
}
