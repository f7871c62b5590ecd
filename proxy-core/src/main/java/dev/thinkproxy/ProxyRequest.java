package dev.thinkproxy;

import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

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
  private final String query;
  private final List<Map.Entry<String, String>> headers;
  private final byte[] body;
  private final String clientAddress;

  private ProxyRequest(Builder b) {
    this.method = b.method;
    this.targetPath = Objects.requireNonNull(b.targetPath, "targetPath");
    this.query = b.query;
    this.headers = List.copyOf(b.headers);
    this.body = b.body;
    this.clientAddress = b.clientAddress;
  }

  /** A builder; the method defaults to {@code POST}. */
  public static Builder builder() {
    return new Builder();
  }

  /** The HTTP method, upper case. */
  public String method() {
    return method;
  }

  /** The raw path after the mount point, starting with {@code /}, e.g. {@code /https://host/v1/chat/completions}. */
  public String targetPath() {
    return targetPath;
  }

  /** The raw query string without {@code ?}, or null. */
  public String query() {
    return query;
  }

  /** The client's address, for {@link ProxyListener}s and access logs; null when the embedder did not set it. */
  public String clientAddress() {
    return clientAddress;
  }

  /** The client's headers in the order received; names as sent. */
  public List<Map.Entry<String, String>> headers() {
    return headers;
  }

  /** The first value of a header, ignoring the case of the name, or null. */
  public String header(String name) {
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

  /** The body length in bytes. */
  public int bodyLength() {
    return body.length;
  }

  /** Builds a {@link ProxyRequest}. */
  public static final class Builder {
    private String method = "POST";
    private String targetPath;
    private String query;
    private final List<Map.Entry<String, String>> headers = new ArrayList<>();
    private byte[] body = new byte[0];
    private String clientAddress;

    private Builder() {}

    /** The HTTP method. Default {@code POST}. */
    public Builder method(String method) {
      this.method = method.toUpperCase(java.util.Locale.ROOT);
      return this;
    }

    /** The raw path after the mount point, e.g. {@code /https://api.openai.com/v1/chat/completions}. */
    public Builder targetPath(String targetPath) {
      this.targetPath = targetPath;
      return this;
    }

    /** The raw query string without {@code ?}, or null. */
    public Builder query(String query) {
      this.query = query;
      return this;
    }

    /** Adds a header; repeated names are kept in order. */
    public Builder addHeader(String name, String value) {
      headers.add(new SimpleImmutableEntry<>(name, value));
      return this;
    }

    /** The body bytes, forwarded byte for byte. The array is not copied; do not modify it afterwards. */
    public Builder body(byte[] body) {
      this.body = Objects.requireNonNull(body, "body");
      return this;
    }

    /** The client's address (e.g. {@code getRemoteAddr()}), reported to listeners; optional. */
    public Builder clientAddress(String address) {
      this.clientAddress = address;
      return this;
    }

    /** The immutable request. */
    public ProxyRequest build() {
      return new ProxyRequest(this);
    }
  }
}
