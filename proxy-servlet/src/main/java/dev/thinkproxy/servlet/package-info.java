/**
 * {@link dev.thinkproxy.servlet.ChatCompletionProxyServlet}, an async {@code jakarta.servlet} servlet that mounts a
 * {@link dev.thinkproxy.ChatCompletionProxy} in any Servlet 6 container, with its settings
 * ({@link dev.thinkproxy.servlet.InitParams}) and browser access rules ({@link dev.thinkproxy.servlet.CorsPolicy}).
 *
 * <p>Types, parameters and return values are non-null unless marked {@link org.jspecify.annotations.Nullable}.
 */
@NullMarked
package dev.thinkproxy.servlet;

import org.jspecify.annotations.NullMarked;
