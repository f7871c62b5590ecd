package dev.thinkproxy;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.List;
import java.util.Map;

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

  private final int status;
  private final String type;
  private final String code;

  /**
   * @param status the HTTP status for the client (400, 403, 413, 502, 504, …)
   * @param type the OpenAI error {@code type}, e.g. {@code invalid_request_error}
   * @param code a stable machine-readable code, e.g. {@code target_refused}
   * @param message a human-readable explanation; never contains credentials
   */
  public ProxyException(int status, String type, String code, String message) {
    this(status, type, code, message, null);
  }

  /** Like {@link #ProxyException(int, String, String, String)} with the failure that caused it. */
  public ProxyException(int status, String type, String code, String message, Throwable cause) {
    super(message, cause);
    this.status = status;
    this.type = type;
    this.code = code;
  }

  /** The HTTP status the client receives when this error happens before the response started. */
  public int status() {
    return status;
  }

  /** The OpenAI error {@code type}. */
  public String type() {
    return type;
  }

  /** The error {@code code}. */
  public String code() {
    return code;
  }

  /** The error as the OpenAI JSON object {@code {"error":{"message":…,"type":…,"code":…}}}, UTF-8. */
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

  /** Headers of the JSON error response for a body of {@code length} bytes. */
  static List<Map.Entry<String, String>> responseHeaders(int length) {
    return List.of(
        new SimpleImmutableEntry<>("Content-Type", "application/json"),
        new SimpleImmutableEntry<>("Content-Length", Integer.toString(length)));
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

  static ProxyException unreachable(String message, Throwable cause) {
    return new ProxyException(502, "upstream_error", "upstream_unreachable", message, cause);
  }

  static ProxyException timeout(String message, Throwable cause) {
    return new ProxyException(504, "upstream_error", "upstream_timeout", message, cause);
  }

  static ProxyException shuttingDown() {
    return new ProxyException(503, "server_error", "proxy_shutting_down", "the proxy is shutting down");
  }
}
