package dev.thinkproxy.load;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Reads one HTTP/1.1 response incrementally: the head, then a chunked, Content-Length or read-until-close body.
 * An event-stream body of a 200 response goes through {@link SseParser} to the listener; any other body is
 * kept as a short snippet for the report.
 */
final class ResponseParser {
  interface Listener extends SseParser.Listener {
    void head(int status) throws IOException;
  }

  private static final int HEAD_LIMIT = 64 * 1024;
  private static final int SNIPPET_LIMIT = 300;

  private final HttpHead.Reader headReader = new HttpHead.Reader(HEAD_LIMIT);
  private final ChunkedDecoder chunked = new ChunkedDecoder();
  private final Listener listener;
  private final SseParser sse;
  private final ChunkedDecoder.Sink body;
  private final StringBuilder snippet = new StringBuilder();
  private int status;
  private boolean eventStream;
  private boolean isChunked;
  private long remaining = -1;
  private boolean complete;
  private boolean keepAlive;

  ResponseParser(int maxEventBytes, Listener listener) {
    this.listener = listener;
    this.sse = new SseParser(maxEventBytes, listener);
    this.body = this::body;
  }

  /** Consumes response bytes; returns true once the response is complete (bytes after it are ignored). */
  boolean feed(byte[] b, int off, int len) throws IOException {
    int i = off;
    int end = off + len;
    if (headReader.head() == null) {
      i += headReader.feed(b, i, end - i);
      if (headReader.head() == null) {
        return false;
      }
      startBody(headReader.head());
    }
    if (complete || i == end) {
      return complete;
    }
    if (isChunked) {
      chunked.feed(b, i, end - i, body);
      complete = chunked.done();
    } else if (remaining >= 0) {
      int n = (int) Math.min(remaining, end - i);
      body(b, i, n);
      remaining -= n;
      complete = remaining == 0;
    } else {
      body(b, i, end - i);
    }
    return complete;
  }

  /** The peer closed the connection: complete only if the body runs until close. */
  boolean endOfInput() {
    if (headReader.head() != null && !isChunked && remaining < 0) {
      complete = true;
    }
    return complete;
  }

  private void startBody(HttpHead head) throws IOException {
    String[] parts = head.startLine().split(" ", 3);
    if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
      throw new IOException("bad status line: " + head.startLine());
    }
    try {
      status = Integer.parseInt(parts[1]);
    } catch (NumberFormatException e) {
      throw new IOException("bad status line: " + head.startLine());
    }
    String type = head.header("Content-Type");
    eventStream = status == 200 && type != null && type.toLowerCase(Locale.ROOT).startsWith("text/event-stream");
    isChunked = head.chunked();
    remaining = isChunked ? -1 : head.contentLength();
    keepAlive = parts[0].equals("HTTP/1.1") && !head.headerHasToken("Connection", "close")
        && (isChunked || remaining >= 0);
    complete = remaining == 0 || status == 204 || status == 304;
    listener.head(status);
  }

  private void body(byte[] b, int off, int len) throws IOException {
    if (eventStream) {
      sse.data(b, off, len);
    } else if (snippet.length() < SNIPPET_LIMIT) {
      int n = Math.min(len, SNIPPET_LIMIT - snippet.length());
      snippet.append(new String(b, off, n, StandardCharsets.UTF_8));
    }
  }

  boolean headComplete() {
    return headReader.head() != null;
  }

  boolean complete() {
    return complete;
  }

  int status() {
    return status;
  }

  /** Whether the connection may carry another request after this response. */
  boolean keepAlive() {
    return complete && keepAlive;
  }

  /** The start of a body that was not an event stream. */
  String snippet() {
    return snippet.toString();
  }
}
