package dev.thinkproxy.servlet;

import dev.thinkproxy.ResponseSink;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the proxy's response into an async servlet response. Writes block until the container has taken the
 * bytes, which is what slows the upstream down for a slow client.
 *
 * <p>Every call into the container runs under one lock, and the container's own error and completion callbacks
 * take that lock before they let the request end. A container recycles the request and response objects for the
 * next connection as soon as its error handling returns; without the lock, a call still running on the proxy's
 * thread can land in the next client's response. Tomcat 10.1 shows it: a flush that fails on a gone client
 * dispatches the error to a container thread, which completes and recycles the request, and only then records
 * the failure on the response object, which by then belongs to the next connection, whose first flush then
 * fails. Holding the callbacks until the call has returned closes that window.
 */
final class ServletSink implements ResponseSink {
  private static final Logger log = LoggerFactory.getLogger(ServletSink.class);
  /** How long a container callback waits for a call in flight; a write to a gone client fails long before. */
  private static final long CALLBACK_WAIT_SECONDS = 30;

  private final AsyncContext async;
  private final HttpServletResponse response;
  private final ReentrantLock io = new ReentrantLock();
  /** Guarded by {@link #io} for writes; read without it by {@link #isCompleted}. */
  private volatile boolean completed;
  private ServletOutputStream out;

  ServletSink(AsyncContext async, HttpServletResponse response) {
    this.async = async;
    this.response = response;
  }

  @Override
  public void start(int status, List<Map.Entry<String, String>> headers) throws IOException {
    io.lock();
    try {
      ensureOpen();
      response.setStatus(status);
      for (Map.Entry<String, String> h : headers) {
        response.addHeader(h.getKey(), h.getValue());
      }
      out = response.getOutputStream();
    } catch (IllegalStateException e) {
      throw recycled(e);
    } finally {
      io.unlock();
    }
  }

  @Override
  public void write(byte[] bytes, int offset, int length) throws IOException {
    io.lock();
    try {
      ensureOpen();
      out.write(bytes, offset, length);
    } catch (IllegalStateException | NullPointerException e) {
      throw recycled(e);
    } finally {
      io.unlock();
    }
  }

  @Override
  public void flush() throws IOException {
    io.lock();
    try {
      ensureOpen();
      out.flush();
    } catch (IllegalStateException | NullPointerException e) {
      throw recycled(e);
    } finally {
      io.unlock();
    }
  }

  /** The container refused a call on a response it already ended: the client is gone. */
  private static IOException recycled(RuntimeException e) {
    return new IOException("the response was closed by the container", e);
  }

  @Override
  public void complete() {
    io.lock();
    try {
      finish();
    } finally {
      io.unlock();
    }
  }

  @Override
  public void abort(Throwable cause) {
    log.debug("response aborted: {}", cause == null ? "canceled" : cause.toString());
    io.lock();
    try {
      if (!completed) {
        try {
          if (!response.isCommitted()) {
            response.resetBuffer();
            response.setStatus(HttpServletResponse.SC_BAD_GATEWAY);
          }
        } catch (IllegalStateException e) {
          // committed meanwhile
        }
      }
      finish();
    } finally {
      io.unlock();
    }
  }

  /**
   * The container is ending the request (the client left, or an error); called on the container's thread. Waits
   * for a call in flight to return, so that the container recycles nothing the proxy is still using; from then
   * on every call fails or does nothing.
   */
  void endedByContainer() {
    boolean locked = false;
    try {
      locked = io.tryLock(CALLBACK_WAIT_SECONDS, TimeUnit.SECONDS);
      if (!locked) {
        log.warn("a write to a gone client did not return within {} s; ending the request anyway",
            CALLBACK_WAIT_SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      completed = true;
    } finally {
      if (locked) {
        io.unlock();
      }
    }
  }

  /**
   * The request completed. Marks the sink done without waiting: by now either {@link #endedByContainer} ran or
   * the proxy completed it itself, and Tomcat calls this while holding a lock that a call in flight may need.
   */
  void completedByContainer() {
    completed = true;
  }

  boolean isCompleted() {
    return completed;
  }

  private void ensureOpen() throws IOException {
    if (completed) {
      throw new IOException("the response is already complete");
    }
  }

  private void finish() {
    if (!completed) {
      completed = true;
      try {
        async.complete();
      } catch (IllegalStateException e) {
        // the container's error handling ended the request first
      }
    }
  }
}
