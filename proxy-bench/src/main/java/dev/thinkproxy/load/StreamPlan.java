package dev.thinkproxy.load;

import java.util.SplittableRandom;

/**
 * What one stream of the load client does: the request target (path and query, sent to the client's address),
 * a kind for the report, and after how many received events the client closes the socket on purpose
 * ({@code -1}: never).
 */
public record StreamPlan(String kind, String path, int abortAfterEvents) {

  /** Chooses each stream's plan; called on the client's loop thread with its random source. */
  @FunctionalInterface
  public interface Planner {
    StreamPlan next(SplittableRandom random);
  }

  public static StreamPlan of(String kind, String path) {
    return new StreamPlan(kind, path, -1);
  }

  /**
   * Every stream asks for {@code path}; a share {@code abortShare} of them is closed by the client after a
   * uniformly chosen 1..{@code abortWithinEvents} events.
   */
  public static Planner fixed(String path, double abortShare, int abortWithinEvents) {
    return random -> random.nextDouble() < abortShare
        ? new StreamPlan("aborted", path, 1 + random.nextInt(Math.max(1, abortWithinEvents)))
        : of("normal", path);
  }
}
