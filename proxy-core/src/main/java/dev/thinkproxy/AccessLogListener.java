package dev.thinkproxy;

import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes one access-log line per exchange, at INFO on an SLF4J logger ({@value #DEFAULT_LOGGER} unless another
 * name is given), when the exchange {@linkplain ProxyListener#finished finishes}. The line is logfmt, fields in
 * this order, a value quoted only when it has to be and {@code -} when it is absent:
 *
 * <pre>
 * time=2026-11-24T09:25:56.123Z client=127.0.0.1 method=POST upstream=llm.chutes.ai path=/v1/chat/completions
 * model=deepseek-ai/DeepSeek-R1 stream=true status=200 outcome=completed ttfb_ms=180 ttfc_ms=412 duration_ms=5230
 * chunks=311 bytes=48211 prompt_tokens=12 completion_tokens=420 reasoning_tokens=301 error=-
 * </pre>
 *
 * (one line in the log; wrapped here). {@code time} is the start of the exchange in UTC; {@code upstream} the
 * provider alias when the request used one, else the upstream host; {@code path} the upstream path, never the
 * query; {@code ttfc_ms} the time to the first token, reasoning or content ({@link ExchangeInfo#timeToFirstToken()});
 * {@code bytes} the response body bytes sent to the client; {@code error} the proxy's error code
 * ({@code target_refused}, {@code upstream_timeout}, …) when it reported one.
 *
 * <p>The line holds only what {@link ExchangeInfo} holds: no headers, keys, query strings or bodies. Values that
 * come from the client (the model name) are escaped: a value with a space, {@code =}, {@code "} or any control or
 * line-separator character is quoted, with {@code "} and {@code \} backslash-escaped and control characters written
 * as {@code \n}, {@code \r}, {@code \t} or {@code \}{@code uXXXX}, so one exchange is always exactly one line. A
 * value is cut at {@value #MAX_VALUE_CHARS} characters (marked with {@code ...}) so a client cannot make a huge
 * line. A value that is literally {@code -} is quoted, so it never reads as absent.
 *
 * <p>Thread-safe and cheap: one {@link StringBuilder} per exchange, nothing when INFO is off for the logger.
 */
public final class AccessLogListener implements ProxyListener {
  /** The logger name used unless the constructor is given another. */
  public static final String DEFAULT_LOGGER = "dev.thinkproxy.access";

  /** Longest value written; longer ones are cut, so a client cannot inflate the log with a huge model name. */
  static final int MAX_VALUE_CHARS = 256;

  private static final String ABSENT = "-";
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private final Logger log;

  /** Logs to {@value #DEFAULT_LOGGER}. */
  public AccessLogListener() {
    this(DEFAULT_LOGGER);
  }

  /**
   * Logs to another SLF4J logger, e.g. to route access lines to their own appender.
   *
   * @param loggerName the logger's name
   */
  public AccessLogListener(String loggerName) {
    this.log = LoggerFactory.getLogger(Objects.requireNonNull(loggerName, "loggerName"));
  }

  @Override
  public void finished(ExchangeInfo exchange) {
    if (log.isInfoEnabled()) {
      log.info(line(exchange));
    }
  }

  /** The access-log line for a finished exchange. */
  static String line(ExchangeInfo e) {
    StringBuilder sb = new StringBuilder(320);
    sb.append("time=");
    TIME.formatTo(e.startedAt(), sb);
    field(sb, "client", e.clientAddress());
    field(sb, "method", e.method());
    field(sb, "upstream", e.alias() != null ? e.alias() : e.upstreamHost());
    field(sb, "path", e.path());
    field(sb, "model", e.model());
    sb.append(" stream=").append(e.stream());
    number(sb, "status", e.status(), e.status() > 0);
    ExchangeInfo.Outcome outcome = e.outcome();
    field(sb, "outcome", outcome == null ? null : outcome.name().toLowerCase(Locale.ROOT));
    millis(sb, "ttfb_ms", e.timeToFirstByte());
    millis(sb, "ttfc_ms", e.timeToFirstToken());
    millis(sb, "duration_ms", e.duration());
    number(sb, "chunks", e.chunks(), true);
    number(sb, "bytes", e.bytesSent(), true);
    TokenUsage usage = e.usage();
    number(sb, "prompt_tokens", usage == null ? 0 : usage.promptTokens(), usage != null);
    number(sb, "completion_tokens", usage == null ? 0 : usage.completionTokens(), usage != null);
    number(sb, "reasoning_tokens", usage == null ? 0 : usage.reasoningTokens(), usage != null);
    ProxyException error = e.error();
    field(sb, "error", error == null ? null : error.code());
    return sb.toString();
  }

  private static void number(StringBuilder sb, String key, long value, boolean present) {
    sb.append(' ').append(key).append('=');
    if (present) {
      sb.append(value);
    } else {
      sb.append(ABSENT);
    }
  }

  private static void millis(StringBuilder sb, String key, @Nullable Duration d) {
    number(sb, key, d == null ? 0 : d.toMillis(), d != null);
  }

  private static void field(StringBuilder sb, String key, @Nullable String value) {
    sb.append(' ').append(key).append('=');
    if (value == null) {
      sb.append(ABSENT);
    } else if (needsQuotes(value)) {
      quoted(sb, value);
    } else {
      sb.append(value, 0, Math.min(value.length(), MAX_VALUE_CHARS));
      if (value.length() > MAX_VALUE_CHARS) {
        sb.append("...");
      }
    }
  }

  private static boolean needsQuotes(String value) {
    if (value.isEmpty() || value.equals(ABSENT)) {
      return true;
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c <= ' ' || c == '=' || c == '"' || needsEscape(c)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Characters a log reader could take for a line break or that hide text: C0/C1 controls, DEL, the Unicode line
   * and paragraph separators, format characters (bidi overrides) and surrogates (a lone one would be mangled by the
   * encoder; a valid pair is escaped too, which costs a few characters of an emoji in a model name and keeps this
   * check one character wide).
   */
  private static boolean needsEscape(char c) {
    if (c < ' ' || (c >= 0x7f && c <= 0x9f)) {
      return true;
    }
    if (c < 0xa0) {
      return false;
    }
    int type = Character.getType(c);
    return type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR
        || type == Character.FORMAT || type == Character.SURROGATE;
  }

  private static void quoted(StringBuilder sb, String value) {
    sb.append('"');
    int end = Math.min(value.length(), MAX_VALUE_CHARS);
    for (int i = 0; i < end; i++) {
      char c = value.charAt(i);
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c == '\n') {
        sb.append("\\n");
      } else if (c == '\r') {
        sb.append("\\r");
      } else if (c == '\t') {
        sb.append("\\t");
      } else if (needsEscape(c)) {
        sb.append("\\u").append(HEX[c >> 12]).append(HEX[(c >> 8) & 0xf]).append(HEX[(c >> 4) & 0xf])
            .append(HEX[c & 0xf]);
      } else {
        sb.append(c);
      }
    }
    if (value.length() > end) {
      sb.append("...");
    }
    sb.append('"');
  }
}
