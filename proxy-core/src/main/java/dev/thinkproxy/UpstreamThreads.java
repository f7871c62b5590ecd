package dev.thinkproxy;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads that read upstream responses: an upstream read blocks (OkHttp has no non-blocking API), so each
 * running exchange holds one thread while it waits for the provider. On Java 21 and later these are virtual
 * threads, found at run time so the library still runs on 17; on 17 they are platform threads with a small
 * stack, which caps the number of concurrent streams by memory and the kernel's thread limits rather than by a
 * pool size.
 */
final class UpstreamThreads {
  private static final Logger log = LoggerFactory.getLogger(UpstreamThreads.class);
  /** Enough for TLS handshakes and the rewrite (measured depth is far below); the JVM default is 1 MiB. */
  static final long PLATFORM_STACK_BYTES = 512 * 1024;

  private UpstreamThreads() {}

  /** A new executor: virtual threads when {@code virtual} and the runtime has them, platform threads otherwise. */
  static ExecutorService create(boolean virtual) {
    if (virtual) {
      ExecutorService executor = virtualThreadExecutor();
      if (executor != null) {
        return executor;
      }
    }
    return new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(),
        platformThreads());
  }

  /** Whether this runtime offers virtual threads. */
  static boolean virtualThreadsAvailable() {
    return Runtime.version().feature() >= 21;
  }

  private static ExecutorService virtualThreadExecutor() {
    if (!virtualThreadsAvailable()) {
      return null;
    }
    try {
      MethodHandles.Lookup lookup = MethodHandles.publicLookup();
      Class<?> builderClass = Class.forName("java.lang.Thread$Builder");
      Object builder = lookup.findStatic(Thread.class, "ofVirtual", MethodType.methodType(Class.forName("java.lang.Thread$Builder$OfVirtual")))
          .invoke();
      builder = lookup.findVirtual(builderClass, "name", MethodType.methodType(builderClass, String.class, long.class))
          .invoke(builder, "thinkproxy-upstream-", 1L);
      ThreadFactory factory = (ThreadFactory) lookup.findVirtual(builderClass, "factory", MethodType.methodType(ThreadFactory.class))
          .invoke(builder);
      return (ExecutorService) lookup.findStatic(java.util.concurrent.Executors.class, "newThreadPerTaskExecutor",
          MethodType.methodType(ExecutorService.class, ThreadFactory.class)).invoke(factory);
    } catch (Throwable e) {
      log.warn("virtual threads are not usable on this runtime; using platform threads", e);
      return null;
    }
  }

  private static ThreadFactory platformThreads() {
    AtomicInteger count = new AtomicInteger();
    return task -> {
      Thread t = new Thread(null, task, "thinkproxy-upstream-" + count.incrementAndGet(), PLATFORM_STACK_BYTES);
      t.setDaemon(true);
      return t;
    };
  }
}
