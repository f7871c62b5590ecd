package dev.thinkproxy;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A request the proxy refused or could not complete, carrying the HTTP status and the OpenAI-style error
 * the client receives: {@code {"error":{"message":…,"type":…,"code":…}}}.
 *
 * <p>Before the first byte of a response has been sent, the proxy answers with {@link #status()} and
 * {@link #toJson()} as the body. Once a stream has started, the same error object is sent as one
 * {@code data:} event and the stream ends.
 */
public final class ProxyException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private static final JsonFactory JSON = new JsonFactory();

  /** The HTTP status for the client. */
  private final int status;
  /** The OpenAI error {@code type}. */
  private final String type;
  /** The stable machine-readable error {@code code}. */
  private final String code;
  /** Seconds for a {@code Retry-After} header, or 0 for none. */
  private final int retryAfterSeconds;

  /**
   * An error for the client.
   *
   * @param status the HTTP status for the client (400, 403, 413, 502, 504, …)
   * @param type the OpenAI error {@code type}, e.g. {@code invalid_request_error}
   * @param code a stable machine-readable code, e.g. {@code target_refused}
   * @param message a human-readable explanation; never contains credentials
   */
  public ProxyException(int status, String type, String code, String message) {
    this(status, type, code, message, null);
  }

  /**
   * An error for the client, with the failure that caused it.
   *
   * @param status the HTTP status for the client (400, 403, 413, 502, 504, …)
   * @param type the OpenAI error {@code type}, e.g. {@code upstream_error}
   * @param code a stable machine-readable code, e.g. {@code upstream_unreachable}
   * @param message a human-readable explanation; never contains credentials
   * @param cause the failure behind it, or null
   */
  public ProxyException(int status, String type, String code, String message, @Nullable Throwable cause) {
    this(status, type, code, message, cause, 0);
  }

  private ProxyException(
      int status, String type, String code, String message, @Nullable Throwable cause, int retryAfter) {
    super(message, cause);
    this.status = status;
    this.type = type;
    this.code = code;
    this.retryAfterSeconds = retryAfter;
  }

  /** {@return the HTTP status the client receives when this error happens before the response started} */
  public int status() {
    return status;
  }

  /** {@return the OpenAI error {@code type}, e.g. {@code invalid_request_error}} */
  public String type() {
    return type;
  }

  /** {@return the stable machine-readable error {@code code}, e.g. {@code target_refused}} */
  public String code() {
    return code;
  }

  /** {@return the error as the OpenAI JSON object {@code {"error":{"message":…,"type":…,"code":…}}}, UTF-8} */
  public byte[] toJson() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(128);
    try (JsonGenerator json = JSON.createGenerator(out)) {
      json.writeStartObject();
      json.writeObjectFieldStart("error");
      json.writeStringField("message", getMessage());
      json.writeStringField("type", type);
      json.writeStringField("code", code);
      json.writeEndObject();
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /**
   * The headers of the error response whose body is {@link #toJson()}: {@code Content-Type},
   * {@code Content-Length} for a body of {@code length} bytes, and {@code Retry-After} when the client should try
   * again later.
   *
   * @param length the length of the body in bytes, normally {@code toJson().length}
   * @return the headers, unmodifiable
   */
  public List<Map.Entry<String, String>> responseHeaders(int length) {
    List<Map.Entry<String, String>> headers = new ArrayList<>(3);
    headers.add(new SimpleImmutableEntry<>("Content-Type", "application/json"));
    headers.add(new SimpleImmutableEntry<>("Content-Length", Integer.toString(length)));
    if (retryAfterSeconds > 0) {
      headers.add(new SimpleImmutableEntry<>("Retry-After", Integer.toString(retryAfterSeconds)));
    }
    return Collections.unmodifiableList(headers);
  }

  static ProxyException badTarget(String message) {
    return new ProxyException(400, "invalid_request_error", "invalid_target_url", message);
  }

  static ProxyException refused(String message) {
    return new ProxyException(403, "invalid_request_error", "target_refused", message);
  }

  static ProxyException bodyTooLarge(long limit) {
    return new ProxyException(
        413, "invalid_request_error", "request_too_large", "request body exceeds the limit of " + limit + " bytes");
  }

  static ProxyException unreachable(String message, @Nullable Throwable cause) {
    return new ProxyException(502, "upstream_error", "upstream_unreachable", message, cause);
  }

  static ProxyException timeout(String message, @Nullable Throwable cause) {
    return new ProxyException(504, "upstream_error", "upstream_timeout", message, cause);
  }

  static ProxyException busy(int limit) {
    return new ProxyException(503, "server_error", "proxy_busy",
        "the proxy is handling its limit of " + limit + " concurrent requests; retry shortly", null, 1);
  }

  static ProxyException missingKey(String header) {
    return new ProxyException(401, "invalid_request_error", "invalid_proxy_key",
        "this proxy requires a valid proxy key in the " + header + " header");
  }

  static ProxyException shuttingDown() {
    return new ProxyException(503, "server_error", "proxy_shutting_down", "the proxy is shutting down");
  }
}
