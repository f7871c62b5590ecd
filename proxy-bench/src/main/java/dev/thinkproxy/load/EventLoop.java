package dev.thinkproxy.load;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.PriorityQueue;
import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * One selector thread with a timer queue and a task queue. Everything that touches channels or per-connection
 * state runs on this thread, so the connection classes need no locking; other threads reach it through
 * {@link #submit}.
 */
final class EventLoop implements AutoCloseable {
  /** What a registered channel's key carries as attachment. */
  interface Handler {
    /** The key is ready for at least one of its interest operations. */
    void ready(SelectionKey key) throws IOException;

    /** The handler threw: release its resources. */
    void failed(Exception e);
  }

  private record Timer(long dueNanos, long seq, Runnable action) implements Comparable<Timer> {
    @Override
    public int compareTo(Timer o) {
      int c = Long.compare(dueNanos, o.dueNanos);
      return c != 0 ? c : Long.compare(seq, o.seq);
    }
  }

  private final Selector selector;
  private final Thread thread;
  private final PriorityQueue<Timer> timers = new PriorityQueue<>();
  private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private long timerSeq;
  private volatile boolean running = true;

  EventLoop(String name) {
    try {
      selector = Selector.open();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    thread = new Thread(this::run, name);
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  Selector selector() {
    return selector;
  }

  boolean inLoop() {
    return Thread.currentThread() == thread;
  }

  /** Runs {@code action} on the loop thread at {@code dueNanos} ({@link System#nanoTime()}); loop thread only. */
  void schedule(long dueNanos, Runnable action) {
    timers.add(new Timer(dueNanos, timerSeq++, action));
  }

  /** Runs {@code task} on the loop thread; callable from any thread. */
  <T> CompletableFuture<T> submit(Callable<T> task) {
    CompletableFuture<T> result = new CompletableFuture<>();
    tasks.add(() -> {
      try {
        result.complete(task.call());
      } catch (Exception e) {
        result.completeExceptionally(e);
      }
    });
    selector.wakeup();
    return result;
  }

  private void run() {
    try {
      while (running) {
        long now = System.nanoTime();
        runDueTimers(now);
        runTasks();
        long waitMs = 1000;
        Timer next = timers.peek();
        if (next != null) {
          // Round up: a timer that is due in 0.4 ms must not make the loop spin.
          waitMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(next.dueNanos - now + 999_999));
        }
        if (!tasks.isEmpty()) {
          selector.selectNow();
        } else {
          selector.select(Math.min(waitMs, 1000));
        }
        for (SelectionKey key : selector.selectedKeys()) {
          dispatch(key);
        }
        selector.selectedKeys().clear();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      closeAll();
    }
  }

  private void runDueTimers(long now) {
    Timer t;
    while ((t = timers.peek()) != null && t.dueNanos - now <= 0) {
      timers.poll();
      t.action.run();
    }
  }

  private void runTasks() {
    Runnable task;
    while ((task = tasks.poll()) != null) {
      task.run();
    }
  }

  private static void dispatch(SelectionKey key) {
    Handler handler = (Handler) key.attachment();
    try {
      if (key.isValid()) {
        handler.ready(key);
      }
    } catch (IOException | RuntimeException e) {
      handler.failed(e);
    }
  }

  private void closeAll() {
    for (SelectionKey key : selector.keys()) {
      try {
        key.channel().close();
      } catch (IOException ignored) {
        // closing everything on the way out; nothing left to report to
      }
    }
    try {
      selector.close();
    } catch (IOException ignored) {
      // as above
    }
  }

  @Override
  public void close() {
    running = false;
    selector.wakeup();
    if (!inLoop()) {
      try {
        thread.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
