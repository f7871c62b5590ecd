package dev.thinkproxy.servlet;

import dev.thinkproxy.ProxyException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Applies a {@link CorsPolicy} to the servlet's exchanges: answers preflights and adds the CORS headers to the
 * responses of allowed origins. The decisions ({@link #preflight}, {@link #responseHeaders}) take header values
 * and return headers, so they can be tested without a container.
 */
final class CorsResponder {
  static final String ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE";

  /**
   * The response headers a browser app needs to read: request ids for support, and what the OpenAI and Anthropic
   * JS SDKs read to pace their retries.
   */
  static final String EXPOSED_HEADERS = String.join(", ",
      "x-request-id", "request-id", "retry-after", "retry-after-ms", "x-should-retry",
      "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
      "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
      "openai-processing-ms");

  static final String PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

  private static final Set<String> METHODS = Set.of("GET", "POST", "PUT", "PATCH", "DELETE");

  /**
   * Request headers a browser app may send, lower case: what the OpenAI and Anthropic JS SDKs and OpenRouter's
   * attribution send from a browser. Firefox lists {@code user-agent} in a preflight when a script sets it, as the
   * SDKs do.
   */
  private static final Set<String> ALLOWED_HEADERS = Set.of(
      "authorization", "content-type", "accept", "user-agent",
      "openai-organization", "openai-project", "openai-beta",
      "x-api-key", "anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access",
      "http-referer", "x-title");

  /** Families of allowed request headers: the SDKs' telemetry and the proxy's own per-request controls. */
  private static final List<String> ALLOWED_HEADER_PREFIXES = List.of("x-stainless-", "x-thinkproxy-");

  private static final Pattern TOKEN = Pattern.compile("[A-Za-z0-9!#$%&'*+.^_`|~-]+");

  private final CorsPolicy policy;
  private final String accessKeyHeader;

  /** @param accessKeyHeader the header carrying the proxy's access key, which browsers may send too */
  CorsResponder(CorsPolicy policy, String accessKeyHeader) {
    this.policy = policy;
    this.accessKeyHeader = accessKeyHeader.toLowerCase(Locale.ROOT);
  }

  /** Whether the request is a CORS preflight that the proxy answers itself instead of forwarding. */
  boolean isPreflight(HttpServletRequest req) {
    return policy.enabled() && "OPTIONS".equals(req.getMethod()) && req.getHeader("Origin") != null
        && req.getHeader("Access-Control-Request-Method") != null;
  }

  /** Answers a preflight: 204 with the allowing headers, or 403 with an OpenAI-style error. */
  void answerPreflight(HttpServletRequest req, HttpServletResponse resp) throws IOException {
    Preflight answer = preflight(req.getHeader("Origin"), req.getHeader("Access-Control-Request-Method"),
        String.join(",", Collections.list(req.getHeaders("Access-Control-Request-Headers"))));
    addHeaders(resp, answer.headers());
    if (answer.refusal() == null) {
      resp.setStatus(HttpServletResponse.SC_NO_CONTENT);
      return;
    }
    ChatCompletionProxyServlet.writeJson(resp, answer.refusal());
  }

  /** Adds the CORS headers of an actual (not preflight) request's response, before anything else is written. */
  void addResponseHeaders(HttpServletRequest req, HttpServletResponse resp) {
    addHeaders(resp, responseHeaders(req.getHeader("Origin")));
  }

  /**
   * The answer to a preflight.
   *
   * @param requestHeaders the {@code Access-Control-Request-Headers} value, comma-separated; empty for none
   */
  Preflight preflight(String origin, String requestMethod, String requestHeaders) {
    List<Map.Entry<String, String>> headers = new ArrayList<>();
    headers.add(header("Vary", PREFLIGHT_VARY));
    if (!policy.allowsOrigin(origin)) {
      return new Preflight(headers, refusal("the origin " + origin + " is not allowed to call this proxy"));
    }
    if (!METHODS.contains(requestMethod)) {
      return new Preflight(headers, refusal("the method " + requestMethod + " is not allowed from a browser; "
          + "allowed: " + ALLOWED_METHODS));
    }
    List<String> requested = new ArrayList<>();
    for (String name : requestHeaders.split(",")) {
      String lower = name.strip().toLowerCase(Locale.ROOT);
      if (lower.isEmpty()) {
        continue;
      }
      if (!isAllowedHeader(lower)) {
        return new Preflight(headers, refusal("the request header " + lower + " is not allowed from a browser"));
      }
      requested.add(lower);
    }
    headers.addAll(allowOrigin(origin));
    headers.add(header("Access-Control-Allow-Methods", ALLOWED_METHODS));
    // Echoed rather than "*": a wildcard does not cover Authorization.
    if (!requested.isEmpty()) {
      headers.add(header("Access-Control-Allow-Headers", String.join(", ", requested)));
    }
    headers.add(header("Access-Control-Max-Age", Long.toString(policy.maxAge().toSeconds())));
    return new Preflight(headers, null);
  }

  /**
   * The CORS headers of an actual request's response: none when CORS is off, {@code Vary: Origin} alone for an
   * origin that is not allowed (so a cache does not hand one origin's answer to another), and the allowing headers
   * for an allowed one.
   *
   * @param origin the request's {@code Origin}, or null
   */
  List<Map.Entry<String, String>> responseHeaders(String origin) {
    if (!policy.enabled()) {
      return List.of();
    }
    List<Map.Entry<String, String>> headers = new ArrayList<>();
    if (!policy.allowsAnyOrigin()) {
      headers.add(header("Vary", "Origin"));
    }
    if (policy.allowsOrigin(origin)) {
      headers.addAll(allowOrigin(origin));
      headers.add(header("Access-Control-Expose-Headers", EXPOSED_HEADERS));
    }
    return headers;
  }

  private List<Map.Entry<String, String>> allowOrigin(String origin) {
    List<Map.Entry<String, String>> headers = new ArrayList<>(2);
    headers.add(header("Access-Control-Allow-Origin", policy.allowsAnyOrigin() ? CorsPolicy.ANY_ORIGIN : origin));
    if (policy.allowsCredentials()) {
      headers.add(header("Access-Control-Allow-Credentials", "true"));
    }
    return headers;
  }

  private boolean isAllowedHeader(String lower) {
    if (!TOKEN.matcher(lower).matches()) {
      return false;
    }
    if (ALLOWED_HEADERS.contains(lower) || lower.equals(accessKeyHeader)) {
      return true;
    }
    for (String prefix : ALLOWED_HEADER_PREFIXES) {
      if (lower.startsWith(prefix)) {
        return true;
      }
    }
    return false;
  }

  private static ProxyException refusal(String message) {
    return new ProxyException(403, "invalid_request_error", "cors_not_allowed", message);
  }

  private static Map.Entry<String, String> header(String name, String value) {
    return new SimpleImmutableEntry<>(name, value);
  }

  private static void addHeaders(HttpServletResponse resp, List<Map.Entry<String, String>> headers) {
    for (Map.Entry<String, String> h : headers) {
      resp.addHeader(h.getKey(), h.getValue());
    }
  }

  /**
   * A preflight's answer.
   *
   * @param headers the response headers
   * @param refusal the 403 error when the preflight is refused, or null when it is allowed (204)
   */
  record Preflight(List<Map.Entry<String, String>> headers, ProxyException refusal) {}
}
