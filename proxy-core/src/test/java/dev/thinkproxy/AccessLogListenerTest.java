package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.thinkproxy.ExchangeInfo.Outcome;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.StringLength;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AccessLogListenerTest {
  private static final List<String> FIELDS = List.of("time", "client", "method", "upstream", "path", "model",
      "stream", "status", "outcome", "ttfb_ms", "ttfc_ms", "duration_ms", "chunks", "bytes", "prompt_tokens",
      "completion_tokens", "reasoning_tokens", "error");
  private static final String NUMBER = "\\d+";

  private final AccessLogListener listener = new AccessLogListener();

  @Test
  void completedStreamHasEveryFieldInOrder() {
    ExchangeInfo e = new ExchangeScript(listener).request("deepseek-r1", true)
        .resolved(null, "llm.example.com", "/v1/chat/completions")
        .firstByte(200).reasoning().content().sent(4096, 12)
        .usage(new TokenUsage(1, 1, 2, 0)).usage(new TokenUsage(12, 40, 52, 30))
        .finish(Outcome.COMPLETED);

    String line = AccessLogListener.line(e);

    assertThat(line).matches("time=\\S+ client=127\\.0\\.0\\.1 method=POST upstream=llm\\.example\\.com "
        + "path=/v1/chat/completions model=deepseek-r1 stream=true status=200 outcome=completed "
        + "ttfb_ms=\\d+ ttfc_ms=\\d+ duration_ms=\\d+ chunks=12 bytes=4096 "
        + "prompt_tokens=12 completion_tokens=40 reasoning_tokens=30 error=-");
    Map<String, String> fields = parse(line);
    assertThat(fields.keySet()).containsExactlyElementsOf(FIELDS);
    assertThat(Instant.parse(fields.get("time"))).isEqualTo(e.startedAt().truncatedTo(ChronoUnit.MILLIS));
    assertThat(fields.get("time")).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
    assertThat(Long.parseLong(fields.get("ttfc_ms"))).isEqualTo(e.timeToFirstToken().toMillis());
    assertThat(Long.parseLong(fields.get("duration_ms"))).isEqualTo(e.duration().toMillis());
  }

  @Test
  void aliasIsTheUpstreamWhenTheRequestUsedOne() {
    ExchangeInfo e = new ExchangeScript(listener).request("gpt", false)
        .resolved("openai", "api.openai.com", "/v1/models").firstByte(200).sent(10, 0)
        .finish(Outcome.COMPLETED);

    Map<String, String> fields = parse(AccessLogListener.line(e));

    assertThat(fields).containsEntry("upstream", "openai").containsEntry("stream", "false")
        .containsEntry("ttfc_ms", "-").containsEntry("prompt_tokens", "-");
  }

  @Test
  void refusedRequestWithoutATargetHasDashesForWhatIsUnknown() {
    ExchangeInfo e = new ExchangeScript(listener, "POST", "203.0.113.9")
        .refused(ProxyException.missingKey("X-Thinkproxy-Key"))
        .finish(Outcome.REFUSED);

    String line = AccessLogListener.line(e);

    assertThat(line).matches("time=\\S+ client=203\\.0\\.113\\.9 method=POST upstream=- path=- model=- stream=false "
        + "status=401 outcome=refused ttfb_ms=- ttfc_ms=- duration_ms=" + NUMBER + " chunks=0 bytes=" + NUMBER + " "
        + "prompt_tokens=- completion_tokens=- reasoning_tokens=- error=invalid_proxy_key");
  }

  @Test
  void refusedHostIsLoggedWithTheRefusal() {
    ExchangeInfo e = new ExchangeScript(listener).target(null, "10.0.0.5", "/v1/chat/completions")
        .refused(ProxyException.refused("private address")).finish(Outcome.REFUSED);

    Map<String, String> fields = parse(AccessLogListener.line(e));

    assertThat(fields).containsEntry("upstream", "10.0.0.5").containsEntry("path", "/v1/chat/completions")
        .containsEntry("status", "403").containsEntry("outcome", "refused").containsEntry("error", "target_refused")
        .containsEntry("bytes", Integer.toString(ProxyException.refused("private address").toJson().length));
  }

  @Test
  void failureCarriesTheProxyErrorCode() {
    ExchangeInfo e = new ExchangeScript(listener, "POST", null).request(null, false)
        .resolved(null, "llm.example.com", "/v1/chat/completions")
        .failed(ProxyException.timeout("no answer", null))
        .finish(Outcome.FAILED);

    Map<String, String> fields = parse(AccessLogListener.line(e));

    assertThat(fields).containsEntry("client", "-").containsEntry("model", "-").containsEntry("status", "504")
        .containsEntry("outcome", "failed").containsEntry("ttfb_ms", "-").containsEntry("error", "upstream_timeout");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "a\"b", "two words", "k=v", "x\ny", "x\r\ny", "tab\there", "back\\slash\"", "-", "", "nul\u0000",
      "nel\u0085", "ls\u2028ps\u2029", "bidi\u202eevil", "emoji\ud83d\ude00", "lone\ud800",
      "m\n2026-01-01T00:00:00.000Z [main] INFO dev.thinkproxy.access - time=x client=1.2.3.4 status=200"})
  void hostileModelNamesStayInsideOneFieldOfOneLine(String model) {
    ExchangeInfo e = completed(model);

    String line = AccessLogListener.line(e);

    assertOneLine(line);
    Map<String, String> fields = parse(line);
    assertThat(fields.keySet()).containsExactlyElementsOf(FIELDS);
    assertThat(fields.get("model")).isEqualTo(model);
    assertThat(fields.get("status")).isEqualTo("200");
  }

  @Test
  void escapesAreTheUsualOnes() {
    assertThat(modelField("say \"hi\"\n")).isEqualTo("model=\"say \\\"hi\\\"\\n\"");
    assertThat(modelField("a=b")).isEqualTo("model=\"a=b\"");
    assertThat(modelField("c:\\dir")).as("a backslash alone needs no quotes").isEqualTo("model=c:\\dir");
    assertThat(modelField("ls\u2028")).isEqualTo("model=\"ls\\u2028\"");
    assertThat(modelField("-")).as("never read as absent").isEqualTo("model=\"-\"");
    assertThat(modelField("")).isEqualTo("model=\"\"");
    assertThat(modelField("Qwen/Qwen3-235B-A22B:free")).isEqualTo("model=Qwen/Qwen3-235B-A22B:free");
  }

  @Test
  void hugeValuesAreCut() {
    String huge = "x".repeat(100_000);
    String hugeQuoted = "y ".repeat(50_000);

    assertThat(modelField(huge)).isEqualTo("model=" + "x".repeat(AccessLogListener.MAX_VALUE_CHARS) + "...");
    assertThat(modelField(hugeQuoted))
        .isEqualTo("model=\"" + hugeQuoted.substring(0, AccessLogListener.MAX_VALUE_CHARS) + "...\"");
  }

  @Property(tries = 300)
  void anyModelNameGivesOneLineThatParsesBack(@ForAll @StringLength(max = 40) String model) {
    String line = AccessLogListener.line(completed(model));

    assertOneLine(line);
    Map<String, String> fields = parse(line);
    assertThat(fields.keySet()).containsExactlyElementsOf(FIELDS);
    assertThat(fields.get("model")).isEqualTo(model);
  }

  @Test
  void finishedWritesTheLineAtInfoOnTheNamedLogger() throws Exception {
    String name = "test.access." + UUID.randomUUID();
    AccessLogListener named = new AccessLogListener(name);
    new ExchangeScript(named).request("model-" + name, true)
        .resolved(null, "llm.example.com", "/v1/chat/completions").firstByte(200)
        .finish(Outcome.COMPLETED);

    List<String> lines = Files.readAllLines(Path.of("target/thinkproxy-test.log"), StandardCharsets.UTF_8).stream()
        .filter(l -> l.contains(name)).collect(Collectors.toList());

    assertThat(lines).hasSize(1);
    assertThat(lines.get(0)).contains("INFO " + name + " - time=").contains(" model=model-" + name + " ");
  }

  private static ExchangeInfo completed(String model) {
    return new ExchangeScript(ProxyListener.NONE).request(model, true)
        .resolved(null, "llm.example.com", "/v1/chat/completions").firstByte(200).content()
        .finish(Outcome.COMPLETED);
  }

  private static String modelField(String model) {
    String line = AccessLogListener.line(completed(model));
    int start = line.indexOf(" model=") + 1;
    int end = line.indexOf(" stream=true ");
    return line.substring(start, end);
  }

  private static void assertOneLine(String line) {
    assertThat(line).doesNotContain("\n", "\r", "\u000b", "\u000c", "\u0085", "\u2028", "\u2029");
    assertThat(line.chars().filter(Character::isISOControl).count()).isZero();
  }

  /** A strict logfmt reader: {@code key=value} or {@code key="escaped value"}, one space apart. */
  private static Map<String, String> parse(String line) {
    Map<String, String> out = new LinkedHashMap<>();
    int i = 0;
    while (i < line.length()) {
      int eq = line.indexOf('=', i);
      String key = line.substring(i, eq);
      assertThat(key).matches("[a-z_]+");
      assertThat(out).doesNotContainKey(key);
      i = eq + 1;
      StringBuilder value = new StringBuilder();
      if (i < line.length() && line.charAt(i) == '"') {
        i++;
        while (line.charAt(i) != '"') {
          char c = line.charAt(i++);
          if (c != '\\') {
            value.append(c);
            continue;
          }
          char esc = line.charAt(i++);
          switch (esc) {
            case 'n':
              value.append('\n');
              break;
            case 'r':
              value.append('\r');
              break;
            case 't':
              value.append('\t');
              break;
            case 'u':
              value.append((char) Integer.parseInt(line.substring(i, i + 4), 16));
              i += 4;
              break;
            default:
              value.append(esc);
          }
        }
        i++;
      } else {
        int end = line.indexOf(' ', i);
        end = end < 0 ? line.length() : end;
        value.append(line, i, end);
        i = end;
      }
      out.put(key, value.toString());
      if (i < line.length()) {
        assertThat(line.charAt(i)).as("separator after %s in %s", key, line).isEqualTo(' ');
        i++;
      }
    }
    return out;
  }
}
