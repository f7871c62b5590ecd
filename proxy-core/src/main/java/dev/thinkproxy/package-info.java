/**
 * The servlet-free proxy: {@link dev.thinkproxy.ChatCompletionProxy} forwards OpenAI-compatible requests to the
 * provider named in the request path and moves {@code <think>} reasoning into its own field on the way.
 *
 * <p>Build a proxy with {@link dev.thinkproxy.ChatCompletionProxy#builder()}, configured with a
 * {@link dev.thinkproxy.TargetPolicy} (which upstreams are allowed), {@link dev.thinkproxy.ThinkOptions} (what
 * happens to reasoning) and {@link dev.thinkproxy.ProviderAliases}; hand it each {@link dev.thinkproxy.ProxyRequest}
 * with a {@link dev.thinkproxy.ResponseSink} to write the answer to. {@link dev.thinkproxy.ProxyListener}s hear
 * every exchange ({@link dev.thinkproxy.AccessLogListener}, {@link dev.thinkproxy.MicrometerProxyListener}).
 * {@link dev.thinkproxy.ThinkTagProcessor} is the text state machine underneath, usable alone.
 *
 * <p>Types, parameters and return values are non-null unless marked {@link org.jspecify.annotations.Nullable}.
 */
@NullMarked
package dev.thinkproxy;

import org.jspecify.annotations.NullMarked;
