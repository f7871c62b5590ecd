package dev.thinkproxy.servlet;

import dev.thinkproxy.ResponseSink;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the proxy's response into an async servlet response. Writes block until the container has taken the
 * bytes, which is what slows the upstream down for a slow client. Completion is idempotent: a container may
 * already have completed the request from its own error handling.
 */
final class ServletSink implements ResponseSink {
  private static final Logger log = LoggerFactory.getLogger(ServletSink.class);

  private final AsyncContext async;
  private final HttpServletResponse response;
  private final AtomicBoolean completed = new AtomicBoolean();
  private ServletOutputStream out;

  ServletSink(AsyncContext async, HttpServletResponse response) {
    this.async = async;
    this.response = response;
  }

  @Override
  public void start(int status, List<Map.Entry<String, String>> headers) throws IOException {
    ensureOpen();
    response.setStatus(status);
    for (Map.Entry<String, String> h : headers) {
      response.addHeader(h.getKey(), h.getValue());
    }
    out = response.getOutputStream();
  }

  @Override
  public void write(byte[] bytes, int offset, int length) throws IOException {
    ensureOpen();
    try {
      out.write(bytes, offset, length);
    } catch (IllegalStateException | NullPointerException e) {
      throw recycled(e);
    }
  }

  @Override
  public void flush() throws IOException {
    ensureOpen();
    try {
      out.flush();
    } catch (IllegalStateException | NullPointerException e) {
      throw recycled(e);
    }
  }

  /** The container recycled the response between our check and the call: the client is gone. */
  private static IOException recycled(RuntimeException e) {
    return new IOException("the response was closed by the container", e);
  }

  @Override
  public void complete() {
    finish();
  }

  @Override
  public void abort(Throwable cause) {
    log.debug("response aborted: {}", cause == null ? "canceled" : cause.toString());
    if (!completed.get()) {
      try {
        if (!response.isCommitted()) {
          response.resetBuffer();
          response.setStatus(HttpServletResponse.SC_BAD_GATEWAY);
        }
      } catch (IllegalStateException e) {
        // committed meanwhile, or the container already recycled the response after the client left
      }
    }
    finish();
  }

  /**
   * The container ended the request itself (the client left, or an error): from now on every call fails or does
   * nothing, so the proxy never touches a response the container may already have recycled.
   */
  void closedByContainer() {
    completed.set(true);
  }

  boolean isCompleted() {
    return completed.get();
  }

  private void ensureOpen() throws IOException {
    if (completed.get()) {
      throw new IOException("the response is already complete");
    }
  }

  private void finish() {
    if (completed.compareAndSet(false, true)) {
      try {
        async.complete();
      } catch (IllegalStateException e) {
        // Tomcat may have completed it from onError already.
      }
    }
  }
}
