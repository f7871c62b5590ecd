package dev.thinkproxy;

/** A handle on one exchange started by {@link ChatCompletionProxy#forward}. Thread-safe. */
public interface ProxyCall {

  /**
   * Cancels the exchange: the upstream call is cancelled and its connection closed, and the sink is aborted if
   * it was not finished yet. Call it when the client goes away. Idempotent.
   */
  void cancel();

  /** {@return whether the exchange has finished: the sink was completed or aborted} */
  boolean isDone();
}
