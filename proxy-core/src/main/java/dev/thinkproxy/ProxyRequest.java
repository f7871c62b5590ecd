package dev.thinkproxy;

import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One client request as the proxy sees it: the method, the raw target path with the upstream base URL inside it
 * ({@code /https://llm.chutes.ai/v1/chat/completions}), the raw query, the headers and the body. Immutable.
 *
 * <p>The target path is taken exactly as the client sent it (not decoded, dot segments not resolved): a
 * servlet passes {@code getRequestURI()} minus the context path and mount prefix, never {@code getPathInfo()},
 * which containers normalise in ways that can change the target host.
 */
public final class ProxyRequest {
  private final String method;
  private final String targetPath;
  private final @Nullable String query;
  private final List<Map.Entry<String, String>> headers;
  private final byte[] body;
  private final @Nullable String clientAddress;

  private ProxyRequest(Builder b) {
    this.method = b.method;
    this.targetPath = Objects.requireNonNull(b.targetPath, "targetPath");
    this.query = b.query;
    this.headers = List.copyOf(b.headers);
    this.body = b.body;
    this.clientAddress = b.clientAddress;
  }

  /**
   * Starts a request.
   *
   * @return a builder; the method defaults to {@code POST}
   */
  public static Builder builder() {
    return new Builder();
  }

  /** {@return the HTTP method, upper case} */
  public String method() {
    return method;
  }

  /**
   * {@return the raw path after the mount point, starting with {@code /}, e.g.
   * {@code /https://host/v1/chat/completions}}
   */
  public String targetPath() {
    return targetPath;
  }

  /** {@return the raw query string without {@code ?}, or null when the request has none} */
  public @Nullable String query() {
    return query;
  }

  /**
   * {@return the client's address, for {@link ProxyListener}s and access logs; null when the embedder did not set
   * it}
   */
  public @Nullable String clientAddress() {
    return clientAddress;
  }

  /** {@return the client's headers in the order received, names as sent; unmodifiable} */
  public List<Map.Entry<String, String>> headers() {
    return headers;
  }

  /**
   * Looks up a header.
   *
   * @param name the header name, matched ignoring case
   * @return the first value of the header, or null when the request has none
   */
  public @Nullable String header(String name) {
    for (Map.Entry<String, String> h : headers) {
      if (h.getKey().equalsIgnoreCase(name)) {
        return h.getValue();
      }
    }
    return null;
  }

  /** The request body; empty when there is none. Callers must not modify it. */
  byte[] body() {
    return body;
  }

  /** {@return the body length in bytes} */
  public int bodyLength() {
    return body.length;
  }

  /** Builds a {@link ProxyRequest}. */
  public static final class Builder {
    private String method = "POST";
    private @Nullable String targetPath;
    private @Nullable String query;
    private final List<Map.Entry<String, String>> headers = new ArrayList<>();
    private byte[] body = new byte[0];
    private @Nullable String clientAddress;

    private Builder() {}

    /**
     * Sets the HTTP method. Default {@code POST}.
     *
     * @param method the method, in any case
     * @return this builder
     */
    public Builder method(String method) {
      this.method = method.toUpperCase(java.util.Locale.ROOT);
      return this;
    }

    /**
     * Sets the target path; required.
     *
     * @param targetPath the raw path after the mount point, e.g. {@code /https://api.openai.com/v1/chat/completions}
     * @return this builder
     */
    public Builder targetPath(String targetPath) {
      this.targetPath = targetPath;
      return this;
    }

    /**
     * Sets the query string. Default: none.
     *
     * @param query the raw query string without {@code ?}, or null for none
     * @return this builder
     */
    public Builder query(@Nullable String query) {
      this.query = query;
      return this;
    }

    /**
     * Adds a header; repeated names are kept in order.
     *
     * @param name the header name as sent
     * @param value the header value
     * @return this builder
     */
    public Builder addHeader(String name, String value) {
      headers.add(new SimpleImmutableEntry<>(name, value));
      return this;
    }

    /**
     * Sets the body, forwarded byte for byte. Default: empty.
     *
     * @param body the body bytes; the array is not copied, so do not modify it afterwards
     * @return this builder
     */
    public Builder body(byte[] body) {
      this.body = Objects.requireNonNull(body, "body");
      return this;
    }

    /**
     * Sets the client's address, reported to listeners. Default: none.
     *
     * @param address the client's address (e.g. {@code getRemoteAddr()}), or null when unknown
     * @return this builder
     */
    public Builder clientAddress(@Nullable String address) {
      this.clientAddress = address;
      return this;
    }

    /**
     * Builds the request.
     *
     * @return the immutable request
     * @throws NullPointerException when no target path was set
     */
    public ProxyRequest build() {
      return new ProxyRequest(this);
    }
  }
}
