package dev.thinkproxy.servlet;

import dev.thinkproxy.ResponseSink;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the proxy's response into an async servlet response with non-blocking I/O: no thread waits on a slow
 * client's socket. What the container cannot take at once waits in a queue that the container drains from
 * {@link #onWritePossible()}. When more than the buffer is queued, {@link #write} waits until the client catches
 * up, so the proxy stops reading from the upstream and TCP slows the provider down: memory per stream stays
 * bounded by the buffer, plus the container's own.
 *
 * <p>Every call into the container runs under one lock, and the container's own callbacks take that lock before
 * they let the request end. A container recycles the request and response objects for the next connection as soon
 * as its error handling returns; without the lock, a call still running on the proxy's thread can land in the next
 * client's response. Tomcat 10.1 shows it: a flush that fails on a gone client dispatches the error to a container
 * thread, which completes and recycles the request, and only then records the failure on the response object,
 * which by then belongs to the next connection, whose first flush then fails. Holding the callbacks until the call
 * has returned closes that window.
 */
final class ServletSink implements ResponseSink, WriteListener {
  private static final Logger log = LoggerFactory.getLogger(ServletSink.class);
  /** How long a container callback waits for a call in flight; a write to a gone client fails long before. */
  private static final long CALLBACK_WAIT_SECONDS = 30;

  private final AsyncContext async;
  private final HttpServletResponse response;
  private final long bufferBytes;
  private final ReentrantLock io = new ReentrantLock();
  private final Condition room = io.newCondition();
  /** Guarded by {@link #io}, as are the fields below. */
  private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
  private long queued;
  private boolean flushWanted;
  private boolean completeWanted;
  private IOException failure;
  private ServletOutputStream out;
  /** Written under {@link #io}; read without it by {@link #isCompleted}. */
  private volatile boolean completed;

  /** @param bufferBytes the bytes queued for a slow client beyond which {@link #write} waits */
  ServletSink(AsyncContext async, HttpServletResponse response, long bufferBytes) {
    this.async = async;
    this.response = response;
    this.bufferBytes = bufferBytes;
  }

  /** Switches the response to non-blocking output; called once, on the container's thread, after startAsync. */
  void listen() throws IOException {
    io.lock();
    try {
      out = response.getOutputStream();
      out.setWriteListener(this);
    } finally {
      io.unlock();
    }
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
      try {
        // A copy: the proxy reuses its array when this call returns, and a container may keep the array it was
        // given until the bytes are sent (Jetty does for a write larger than its buffer).
        byte[] copy = Arrays.copyOfRange(bytes, offset, offset + length);
        if (queue.isEmpty() && out.isReady()) {
          out.write(copy);
        } else {
          queue.add(copy);
          queued += length;
          drain();
        }
      } catch (IOException e) {
        throw failed(e);
      } catch (IllegalStateException | NullPointerException e) {
        throw failed(recycled(e));
      }
      while (queued > bufferBytes && failure == null && !completed) {
        room.await();
      }
      ensureOpen();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while the client was catching up", e);
    } finally {
      io.unlock();
    }
  }

  @Override
  public void flush() throws IOException {
    io.lock();
    try {
      ensureOpen();
      flushWanted = true;
      drain();
      ensureOpen();
    } finally {
      io.unlock();
    }
  }

  @Override
  public void complete() {
    io.lock();
    try {
      if (!completed) {
        completeWanted = true;
        flushWanted = true;
        drain();
      }
    } finally {
      io.unlock();
    }
  }

  @Override
  public void abort(Throwable cause) {
    log.debug("response aborted: {}", cause == null ? "canceled" : cause.toString());
    io.lock();
    try {
      queue.clear();
      queued = 0;
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

  @Override
  public void onWritePossible() {
    io.lock();
    try {
      drain();
    } finally {
      io.unlock();
    }
  }

  /** A write failed; the container calls this on its own thread before it ends the request. */
  @Override
  public void onError(Throwable t) {
    endedByContainer();
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
      if (locked) {
        if (failure == null) {
          failure = new IOException("the client is gone");
        }
        queue.clear();
        queued = 0;
        room.signalAll();
      }
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

  /** Hands the container what is queued while it can take it; then a wanted flush, then a wanted completion. */
  private void drain() {
    try {
      while (!completed && failure == null && out.isReady()) {
        byte[] next = queue.poll();
        if (next != null) {
          queued -= next.length;
          out.write(next);
        } else if (flushWanted) {
          flushWanted = false;
          out.flush();
        } else {
          if (completeWanted) {
            finish();
          }
          break;
        }
      }
    } catch (IOException e) {
      failed(e);
    } catch (IllegalStateException | NullPointerException e) {
      failed(recycled(e));
    } finally {
      room.signalAll();
    }
  }

  /** Records a failed write: the client is gone, and the container's error handling ends the request. */
  private IOException failed(IOException e) {
    if (failure == null) {
      failure = e;
      log.debug("writing to the client failed: {}", e.toString());
    }
    queue.clear();
    queued = 0;
    room.signalAll();
    return e;
  }

  /** The container refused a call on a response it already ended: the client is gone. */
  private static IOException recycled(RuntimeException e) {
    return new IOException("the response was closed by the container", e);
  }

  private void ensureOpen() throws IOException {
    if (failure != null) {
      throw new IOException("the client is gone", failure);
    }
    if (completed) {
      throw new IOException("the response is already complete");
    }
  }

  private void finish() {
    if (!completed) {
      completed = true;
      room.signalAll();
      try {
        async.complete();
      } catch (IllegalStateException e) {
        // the container's error handling ended the request first
      }
    }
  }
}
