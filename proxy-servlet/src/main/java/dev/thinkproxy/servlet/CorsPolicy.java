package dev.thinkproxy.servlet;

import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Which browser apps may call the proxy across origins (CORS). Off by default: without allowed origins the servlet
 * adds no CORS headers and forwards {@code OPTIONS} requests like any other.
 *
 * <p>With origins allowed, {@link ChatCompletionProxyServlet} answers a preflight itself (never forwarding it, and
 * before checking the proxy key, which a browser does not send on a preflight) and marks the responses to allowed
 * origins as readable, errors included, so a browser app can show the proxy's or the provider's error message.
 *
 * <pre>{@code
 * CorsPolicy cors = CorsPolicy.builder()
 *     .allowOrigin("https://chat.example.com")
 *     .allowOrigin("http://localhost:5173")
 *     .maxAge(Duration.ofMinutes(10))
 *     .build();
 * new ChatCompletionProxyServlet(proxy, cors);
 * }</pre>
 *
 * <p>An origin is {@code scheme://host[:port]} with no path, exactly as a browser sends it in {@code Origin};
 * scheme and host are compared case-insensitively, and a default port ({@code :443} for https, {@code :80} for
 * http) is dropped because browsers never send it. {@code *} allows every origin. Instances are immutable and
 * thread-safe.
 */
public final class CorsPolicy {
  /** How long browsers may cache a preflight answer unless configured otherwise. */
  public static final Duration DEFAULT_MAX_AGE = Duration.ofSeconds(600);

  /** The value that allows every origin. */
  public static final String ANY_ORIGIN = "*";

  private static final CorsPolicy DISABLED = new Builder().build();

  /** scheme "://" host [":" port]; host a name, an IPv4 address or a bracketed IPv6 address. */
  private static final Pattern ORIGIN = Pattern.compile(
      "([A-Za-z][A-Za-z0-9+.-]*)://([A-Za-z0-9._~-]+|\\[[0-9A-Fa-f:.]+\\])(?::([0-9]{1,5}))?");

  private final Set<String> origins;
  private final boolean anyOrigin;
  private final boolean allowCredentials;
  private final Duration maxAge;

  private CorsPolicy(Builder b) {
    this.origins = Set.copyOf(b.origins);
    this.anyOrigin = b.anyOrigin;
    this.allowCredentials = b.allowCredentials;
    this.maxAge = b.maxAge;
  }

  /**
   * Starts a policy.
   *
   * @return a builder with no origins allowed, credentials off and a max-age of {@link #DEFAULT_MAX_AGE}
   */
  public static Builder builder() {
    return new Builder();
  }

  /** {@return the policy that allows no cross-origin access: no CORS headers, preflights forwarded like any request} */
  public static CorsPolicy disabled() {
    return DISABLED;
  }

  /** {@return whether any origin is allowed at all} */
  public boolean enabled() {
    return anyOrigin || !origins.isEmpty();
  }

  /** {@return whether every origin is allowed ({@code *})} */
  public boolean allowsAnyOrigin() {
    return anyOrigin;
  }

  /** {@return the allowed origins in their normalised form (lower case, no default port), without {@code *}} */
  public Set<String> allowedOrigins() {
    return origins;
  }

  /**
   * Whether a browser on {@code origin} may call the proxy.
   *
   * @param origin the request's {@code Origin} header, or null when it has none
   * @return whether the origin is allowed; false for null
   */
  public boolean allowsOrigin(@Nullable String origin) {
    if (origin == null) {
      return false;
    }
    return anyOrigin || origins.contains(origin.strip().toLowerCase(Locale.ROOT));
  }

  /** {@return whether browsers may send cookies and HTTP authentication ({@code Access-Control-Allow-Credentials})} */
  public boolean allowsCredentials() {
    return allowCredentials;
  }

  /** {@return how long browsers may cache a preflight answer ({@code Access-Control-Max-Age})} */
  public Duration maxAge() {
    return maxAge;
  }

  @Override
  public String toString() {
    if (!enabled()) {
      return "CorsPolicy[disabled]";
    }
    return "CorsPolicy[origins=" + (anyOrigin ? ANY_ORIGIN : origins) + ", allowCredentials=" + allowCredentials
        + ", maxAge=" + maxAge + "]";
  }

  /**
   * The origin in the form browsers send it: scheme and host in lower case, no default port.
   *
   * @throws IllegalArgumentException when {@code origin} is not {@code scheme://host[:port]}
   */
  static String normalise(String origin) {
    String s = origin.strip();
    Matcher m = ORIGIN.matcher(s);
    if (!m.matches()) {
      throw new IllegalArgumentException("invalid origin \"" + origin + "\": an origin is scheme://host[:port] with "
          + "no path, query or trailing slash, such as https://chat.example.com or http://localhost:5173, or *");
    }
    String scheme = m.group(1).toLowerCase(Locale.ROOT);
    String host = m.group(2).toLowerCase(Locale.ROOT);
    if (m.group(3) == null) {
      return scheme + "://" + host;
    }
    int port = Integer.parseInt(m.group(3));
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("invalid origin \"" + origin + "\": the port must be 1 to 65535");
    }
    boolean defaultPort = (scheme.equals("https") && port == 443) || (scheme.equals("http") && port == 80);
    return defaultPort ? scheme + "://" + host : scheme + "://" + host + ":" + port;
  }

  /** Builds a {@link CorsPolicy}; not thread-safe. */
  public static final class Builder {
    private final Set<String> origins = new LinkedHashSet<>();
    private boolean anyOrigin;
    private boolean allowCredentials;
    private Duration maxAge = DEFAULT_MAX_AGE;

    private Builder() {}

    /**
     * Allows browser apps on {@code origin} ({@code scheme://host[:port]}, e.g. {@code https://chat.example.com}),
     * or on every origin with {@code *}. Repeatable.
     *
     * @param origin the origin, or {@code *}
     * @return this builder
     * @throws IllegalArgumentException when {@code origin} is neither an origin nor {@code *}
     */
    public Builder allowOrigin(String origin) {
      Objects.requireNonNull(origin, "origin");
      if (origin.strip().equals(ANY_ORIGIN)) {
        anyOrigin = true;
      } else {
        origins.add(normalise(origin));
      }
      return this;
    }

    /**
     * Allows each of several origins, as {@link #allowOrigin(String)}.
     *
     * @param origins the origins
     * @return this builder
     */
    public Builder allowOrigins(Collection<String> origins) {
      origins.forEach(this::allowOrigin);
      return this;
    }

    /**
     * Lets browsers send cookies and HTTP authentication ({@code Access-Control-Allow-Credentials: true}). Only
     * needed when something in front of the proxy authenticates browsers by cookie; an {@code Authorization}
     * header set by the app does not need it. Cannot be combined with {@code *}. Default: false.
     *
     * @param allow whether browsers may send credentials
     * @return this builder
     */
    public Builder allowCredentials(boolean allow) {
      this.allowCredentials = allow;
      return this;
    }

    /**
     * How long browsers may cache a preflight answer, sent in whole seconds; browsers cap it (Chromium at two
     * hours). Default: {@link #DEFAULT_MAX_AGE}.
     *
     * @param maxAge how long, zero or positive
     * @return this builder
     * @throws IllegalArgumentException when {@code maxAge} is negative
     */
    public Builder maxAge(Duration maxAge) {
      if (maxAge.isNegative()) {
        throw new IllegalArgumentException("the CORS max-age must not be negative: " + maxAge);
      }
      this.maxAge = maxAge;
      return this;
    }

    /**
     * Builds the policy.
     *
     * @return the immutable policy
     * @throws IllegalArgumentException when {@code *} is combined with credentials, which browsers refuse
     */
    public CorsPolicy build() {
      if (anyOrigin && allowCredentials) {
        throw new IllegalArgumentException("the origin * cannot be combined with credentials: browsers refuse "
            + "credentials for a wildcard origin; list the allowed origins instead");
      }
      return new CorsPolicy(this);
    }
  }
}
