package dev.thinkproxy;

/**
 * Token counts an upstream reported in a response's {@code usage} object. A count the upstream did not report is
 * zero; {@code totalTokens} is prompt plus completion when the upstream gave no total.
 *
 * @param promptTokens {@code usage.prompt_tokens}
 * @param completionTokens {@code usage.completion_tokens}, reasoning included
 * @param totalTokens {@code usage.total_tokens}
 * @param reasoningTokens {@code usage.completion_tokens_details.reasoning_tokens} (or {@code usage.reasoning_tokens})
 */
public record TokenUsage(long promptTokens, long completionTokens, long totalTokens, long reasoningTokens) {}
