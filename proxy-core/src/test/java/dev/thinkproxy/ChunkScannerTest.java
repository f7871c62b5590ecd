package dev.thinkproxy;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.thinkproxy.ChunkScanner.ChoiceFields;
import dev.thinkproxy.ChunkScanner.Kind;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Disabled;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Group;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.statistics.StatisticsReport;
import org.assertj.core.api.SoftAssertions;

/**
 * {@link ChunkScanner} against the Jackson tree it stands in for: on generated chunks every field it reports is
 * what the tree says (duplicate keys last-wins); it never accepts bytes the mapper cannot parse into an object;
 * {@link ChunkScanner#writeString} escapes byte for byte as the mapper's generator; and a delta spliced into the
 * original bytes gives the same events as rebuilding them from the tree.
 *
 * <p>Every expectation is computed from {@code Sse.MAPPER} (tree or streaming parser), never from the generator's
 * own model of the JSON.
 */
class ChunkScannerTest {

  private static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
  /** A legacy choice with escaped keys, members named like a chat choice's, and members vLLM adds. */
  private static final byte[] LEGACY_CHUNK = utf8("{\"object\":\"text_completion\",\"choices\":[{\"ind\\u0065x\":1,"
      + "\"t\\u0065xt\":\"<think>a\",\"content\":\"c\",\"delta\":{\"content\":\"d\"},\"reasoning\":\"r\","
      + "\"logprobs\":{\"tokens\":[]},\"finish_reason\":\"length\",\"stop_reason\":null}]}");
  private static final Set<String> TEXT_FIELDS = Set.of("content", "reasoning_content", "reasoning");

  @Group
  class AgreementWithTheTree {
    /** One scanner for all tries, as a response reuses one for all its events. */
    private final ChunkScanner scanner = new ChunkScanner(Sse.MAPPER, Endpoint.CHAT_COMPLETIONS);
    private final ChunkScanner legacyScanner = new ChunkScanner(Sse.MAPPER, Endpoint.COMPLETIONS);

    /** A chunk payload, a legacy completion's for about a third of them. */
    record Shaped(boolean legacy, Payload payload) {}

    @Provide
    Arbitrary<Shaped> chunks() {
      return Arbitraries.randomValue(r -> {
        Gen g = new Gen(r, true);
        boolean legacy = g.chance(0.35);
        return new Shaped(legacy, chunkPayload(g, legacy));
      });
    }

    @Property(tries = 900)
    @StatisticsReport(onFailureOnly = true)
    void everyScannedFieldIsWhatTheTreeSays(@ForAll("chunks") Shaped shaped) {
      byte[] b = shaped.payload().bytes();
      ChunkScanner.Chunk chunk = (shaped.legacy() ? legacyScanner : scanner).scan(b, 0, b.length);

      assertThat(chunk).as("a valid chunk scans").isNotNull();
      assertAgreesWithTree(b, chunk, shaped.legacy());
      Statistics.label("spliceable").collect(shaped.legacy(), chunk.spliceable());
      Statistics.label("spliceable").coverage(c -> {
        c.check(false, true).percentage(p -> p > 6);
        c.check(true, true).percentage(p -> p > 3);
      });
    }

    @Example
    void escapedKeysAreRecognisedAtEveryLevel() {
      byte[] b = utf8("{\"ch\\u006fices\":[{\"ind\\u0065x\":2,\"d\\u0065lta\":{\"c\\u006Fntent\":\"a\","
          + "\"reasoning_c\\u006fntent\":\"r\",\"r\\u0065asoning\":null,\"tool\\u005fcalls\":[]}}],"
          + "\"us\\u0061ge\":{}}");

      ChunkScanner.Chunk chunk = scan(b);

      assertAgreesWithTree(b, chunk);
      ChoiceFields c = chunk.choices.get(0);
      assertThat(c.index).isEqualTo(2);
      assertThat(c.content).isEqualTo(Kind.TEXT);
      assertThat(c.reasoningContentText).isEqualTo("r");
      assertThat(c.reasoning).isEqualTo(Kind.NULL);
      assertThat(c.toolCalls).isTrue();
      assertThat(chunk.hasUsage()).isTrue();
    }

    @Example
    void indexIsTheIntValueElseThePosition() {
      Map<String, Integer> cases = new LinkedHashMap<>();
      cases.put("3", 3);
      cases.put("-1", -1);
      cases.put("-0", 0);
      cases.put("2147483647", Integer.MAX_VALUE);
      cases.put("-2147483648", Integer.MIN_VALUE);
      cases.put("2147483648", 1);
      cases.put("-2147483649", 1);
      cases.put("99999999999", 1);
      cases.put("1.0", 1);
      cases.put("1e0", 1);
      cases.put("\"0\"", 1);
      cases.put("null", 1);
      cases.put("[0]", 1);
      cases.forEach((index, expected) -> {
        byte[] b = utf8("{\"choices\":[{},{\"index\":" + index + ",\"delta\":{}}]}");
        ChunkScanner.Chunk chunk = scan(b);
        assertAgreesWithTree(b, chunk);
        assertThat(chunk.choices.get(1).index).as(index).isEqualTo(expected);
      });
    }

    @Example
    void repeatedKeysResolveLastWinsAndAreNotSpliced() {
      byte[] b = utf8("{\"choices\":[{\"delta\":{\"content\":\"a\",\"content\":null},\"finish_reason\":\"stop\","
          + "\"finish_reason\":null,\"logprobs\":{},\"logprobs\":null}]}");

      ChunkScanner.Chunk chunk = scan(b);

      assertAgreesWithTree(b, chunk);
      assertThat(chunk.choices.get(0).content).isEqualTo(Kind.NULL);
      assertThat(chunk.choices.get(0).finishReason).isEmpty();
      assertThat(chunk.spliceable()).isFalse();
    }

    @Example
    void escapedSurrogatesAndControlCharactersDecodeAsJacksonDecodesThem() {
      byte[] b = utf8("{\"choices\":[{\"delta\":{\"content\":\"\\ud83d\\ude00\\uD83D|\\udE00\\u0000\\/\\b\\f\\n\\r\\t"
          + "\u00e9\ud83d\ude00\"}}]}");

      ChunkScanner.Chunk chunk = scan(b);

      assertAgreesWithTree(b, chunk);
      assertThat(chunk.choices.get(0).contentText).isEqualTo("😀\uD83D|\uDE00\u0000/\b\f\n\r\té😀");
    }

    @Example
    void aRepeatedDeltaMemberCountsByItsLastValue() {
      byte[] b = utf8("{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"role\":null}}]}");

      ChunkScanner.Chunk chunk = scan(b);

      // The tree's delta is {"role":null}: no member besides the text fields is non-null.
      assertThat(chunk.choices.get(0).otherFields).isFalse();
    }

    @Example
    void answerFieldsAreNonEmptyRefusalsAndToolCalls() {
      Map<String, Boolean> cases = new LinkedHashMap<>();
      cases.put("\"refusal\":\"no\"", true);
      cases.put("\"refusal\":\"\"", false);
      cases.put("\"refusal\":null", false);
      cases.put("\"tool_calls\":[{\"index\":0}]", true);
      cases.put("\"tool_calls\":[ ]", false);
      cases.put("\"tool_calls\":[]", false);
      cases.put("\"tool_calls\":[{}],\"tool_calls\":[]", false);
      cases.put("\"refusal\":\"no\",\"refusal\":null", false);
      cases.put("\"refusal\":\"no\",\"tool_calls\":[]", true);
      cases.put("\"function_call\":{\"name\":\"f\"}", true);
      cases.forEach((member, answer) -> {
        byte[] b = utf8("{\"choices\":[{\"delta\":{" + member + "}}]}");
        ChunkScanner.Chunk chunk = scan(b);
        assertAgreesWithTree(b, chunk);
        assertThat(chunk.choices.get(0).answer).as(member).isEqualTo(answer);
      });
    }

    @Example
    void aLegacyChoiceHoldsItsTextAndItsOtherMembersAreNoDeltaFields() {
      ChunkScanner.Chunk chunk = scanLegacy(LEGACY_CHUNK);

      assertAgreesWithTree(LEGACY_CHUNK, chunk, true);
      assertThat(Fields.of(chunk.choices.get(0))).isEqualTo(new Fields(0, true, 1, "length", true, true, Kind.TEXT,
          "<think>a", Kind.ABSENT, "", Kind.TEXT, "r", false, false, false, false));
      assertThat(chunk.spliceable()).isTrue();
    }

    @Example
    void aRepeatedMemberOfALegacyChoiceIsNotSpliced() {
      byte[] b = utf8("{\"choices\":[{\"text\":\"a\",\"finish_reason\":\"stop\",\"finish_reason\":null}]}");

      ChunkScanner.Chunk chunk = scanLegacy(b);

      assertAgreesWithTree(b, chunk, true);
      assertThat(chunk.choices.get(0).finishReason).isEmpty();
      assertThat(chunk.spliceable()).isFalse();
    }
  }

  @Group
  class NeverMoreLenientThanJackson {
    /** One scanner for all tries, most of which it rejects halfway through. */
    private final ChunkScanner scanner = new ChunkScanner(Sse.MAPPER, Endpoint.CHAT_COMPLETIONS);
    private final ChunkScanner legacyScanner = new ChunkScanner(Sse.MAPPER, Endpoint.COMPLETIONS);

    @Provide
    Arbitrary<Payload> mutants() {
      return Arbitraries.randomValue(r -> {
        Gen g = new Gen(r, true);
        return new Payload(mutate(g, chunkPayload(g, g.chance(0.3)).bytes()));
      });
    }

    @Property(tries = 3000)
    @StatisticsReport(onFailureOnly = true)
    void scannerNeverAcceptsWhatJacksonRejects(@ForAll("mutants") Payload payload) {
      byte[] b = payload.bytes();
      ChunkScanner.Chunk chunk = scanner.scan(b, 0, b.length);
      ChunkScanner.Chunk legacy = legacyScanner.scan(b, 0, b.length);
      assertThat(legacy != null).as("a legacy scan accepts exactly what a chat scan accepts").isEqualTo(chunk != null);
      Statistics.label("accepted").collect(chunk != null);
      Statistics.label("accepted").coverage(c -> {
        c.check(true).percentage(p -> p > 5);
        c.check(false).percentage(p -> p > 30);
      });
      if (chunk == null) {
        return;
      }

      // See numbersWhoseExponentJacksonCannotRepresentAreRejected: a mutation easily makes such an exponent.
      JsonNode tree = null;
      try {
        tree = Sse.MAPPER.readTree(b);
      } catch (IOException | RuntimeException e) {
        fail("the scanner accepted what Jackson rejects: " + e);
      }
      assertThat(tree).isInstanceOf(ObjectNode.class);
      assertThatCode(chunk::tree).doesNotThrowAnyException();
      assertAgreesWithTree(b, chunk);
      assertAgreesWithTree(b, legacy, true);
    }

    @Provide
    Arbitrary<Slice> slices() {
      return Arbitraries.randomValue(r -> {
        Gen g = new Gen(r, true);
        byte[] valid = chunkPayload(g).bytes();
        int cut = g.chance(0.5) ? valid.length : g.r.nextInt(valid.length + 1);
        byte[] payload = Arrays.copyOf(valid, cut);
        if (g.chance(0.3)) {
          payload = mutate(g, payload);
        }
        byte[] before = junk(g);
        byte[] after = g.chance(0.7) ? Arrays.copyOfRange(valid, cut, valid.length) : junk(g);
        return new Slice(Sse.concat(before, payload, after), before.length, payload.length);
      });
    }

    @Property(tries = 1000)
    void scanningInPlaceReadsNothingOutsideTheSlice(@ForAll("slices") Slice slice) {
      byte[] alone = Arrays.copyOfRange(slice.buffer(), slice.offset(), slice.offset() + slice.length());

      ChunkScanner.Chunk inPlace = scanner.scan(slice.buffer(), slice.offset(), slice.length());
      ChunkScanner.Chunk copied = scan(alone);

      assertThat(inPlace != null).as("accepted in place").isEqualTo(copied != null);
      if (copied != null) {
        assertThat(summary(inPlace, slice.offset())).isEqualTo(summary(copied, 0));
        assertThat(inPlace.tree()).isEqualTo(copied.tree());
        assertThat(inPlace.length()).isEqualTo(slice.length());
      }
    }

    @Example
    void malformedValuesAreRejectedWhereverTheyAppear() {
      SoftAssertions softly = new SoftAssertions();
      for (String context : VALUE_CONTEXTS) {
        for (Bad bad : BAD_VALUES) {
          byte[] b = latin1(context.replace("%s", bad.text()));
          softly.assertThat(scan(b)).as("%s in %s: %s", bad.name(), context, show(b)).isNull();
          softly.assertThat(scanLegacy(b)).as("legacy: %s in %s: %s", bad.name(), context, show(b)).isNull();
          if (bad.jacksonRejects()) {
            softly.assertThat(jacksonParses(b)).as("Jackson on %s in %s: %s", bad.name(), context, show(b)).isFalse();
          }
        }
      }
      for (String context : KEY_CONTEXTS) {
        for (Bad bad : BAD_KEYS) {
          byte[] b = latin1(context.replace("%s", bad.text()));
          softly.assertThat(scan(b)).as("%s in %s: %s", bad.name(), context, show(b)).isNull();
          softly.assertThat(scanLegacy(b)).as("legacy: %s in %s: %s", bad.name(), context, show(b)).isNull();
          if (bad.jacksonRejects()) {
            softly.assertThat(jacksonParses(b)).as("Jackson on %s in %s: %s", bad.name(), context, show(b)).isFalse();
          }
        }
      }
      softly.assertAll();
    }

    @Example
    void malformedStructureIsRejected() {
      List<String> cases = List.of("{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "{\"a\":1,}", "{,}", "{\"a\":1]",
          "{\"a\":[1}", "{\"a\":[1,]}", "{\"a\":1 \"b\":2}", "{\"a\"::1}", "{\"a\":1,,\"b\":2}", "{'a':1}", "{a:1}",
          "{\"a\":\"x}", "{/**/}", "{//\n}", "{\"a\":1/**/}", "{\"a\":NaN}", "{\"a\":01}");
      SoftAssertions softly = new SoftAssertions();
      for (String c : cases) {
        softly.assertThat(scan(latin1(c))).as(c).isNull();
        softly.assertThat(jacksonParses(latin1(c))).as("Jackson on %s", c).isFalse();
      }
      softly.assertAll();
    }

    @Example
    void nestingIsLimitedExactlyAsJacksonLimitsIt() {
      List<String> contexts = List.of("{\"a\":%s}", "{\"choices\":%s}", "{\"choices\":[%s]}", "{\"choices\":[{\"x\":%s}]}",
          "{\"choices\":[{\"delta\":%s}]}", "{\"choices\":[{\"delta\":{\"content\":%s}}]}",
          "{\"choices\":[{\"delta\":{\"x\":%s}}]}", "{\"choices\":[{\"index\":%s}]}", "{\"usage\":%s}");
      SoftAssertions softly = new SoftAssertions();
      int limit = Sse.MAPPER.getFactory().streamReadConstraints().getMaxNestingDepth();
      assertThat(limit).isEqualTo(1000);
      for (String context : contexts) {
        for (int n = limit - 6; n <= limit + 1; n++) {
          for (String nested : List.of("[".repeat(n) + "]".repeat(n), "{\"k\":".repeat(n) + "0" + "}".repeat(n))) {
            byte[] b = utf8(context.replace("%s", nested));
            boolean jackson = jacksonParses(b);
            ChunkScanner.Chunk chunk = scan(b);
            softly.assertThat(chunk != null).as("%s deep in %s", n, context).isEqualTo(jackson);
            if (chunk != null) {
              softly.assertThat(chunk.tree()).isEqualTo(readTree(b));
            }
          }
        }
      }
      softly.assertAll();
    }

    @Example
    void invalidUtf8IsRejectedInStringsAndKeys() {
      List<byte[]> sequences = List.of(bytes(0x80), bytes(0xBF), bytes(0xC0, 0x80), bytes(0xC1, 0xBF),
          bytes(0xE2, 0x82), bytes(0xE0, 0x80, 0x80), bytes(0xED, 0xA0, 0x80), bytes(0xED, 0xBF, 0xBF),
          bytes(0xF0, 0x80, 0x80, 0x80), bytes(0xF4, 0x90, 0x80, 0x80), bytes(0xF5, 0x80, 0x80, 0x80), bytes(0xFF),
          bytes(0xC3, 'a'), bytes(0xF0, 0x9F, 0x98), bytes(0xF0, 0x9F, 0x98, 0x80, 0x80));
      SoftAssertions softly = new SoftAssertions();
      for (byte[] seq : sequences) {
        for (String context : List.of("{\"a\":\"x%sy\"}", "{\"x%sy\":1}", "{\"choices\":[{\"delta\":{\"content\":\"%s\"}}]}",
            "{\"choices\":[{\"finish_reason\":\"%s\"}]}", "{\"choices\":[{\"delta\":{\"%s\":1}}]}")) {
          byte[] b = latin1(context.replace("%s", new String(seq, ISO_8859_1)));
          softly.assertThat(scan(b)).as(show(b)).isNull();
        }
      }
      softly.assertAll();
    }

    @Example
    void validUtf8AtTheEdgesOfEachLengthIsAccepted() {
      List<String> chars = List.of("\u0080", "\u07FF", "\u0800", "\uD7FF", "\uE000", "\uFFFF", "\uD800\uDC00",
          "\uDBFF\uDFFF");
      for (String c : chars) {
        byte[] b = utf8("{\"" + c + "\":\"" + c + "\",\"choices\":[{\"delta\":{\"content\":\"" + c + "\"}}]}");
        ChunkScanner.Chunk chunk = scan(b);
        assertThat(chunk).as(show(b)).isNotNull();
        assertAgreesWithTree(b, chunk);
      }
    }

    @Example
    void onlyAnObjectIsAChunk() {
      List<String> cases = List.of("", " ", "\n", "\uFEFF", "[]", "[{\"choices\":[]}]", "\"x\"", "1", "-1", "null",
          "true", "[DONE]", "data: {}", "\uFEFF\uFEFF{}");
      for (String c : cases) {
        assertThat(scan(utf8(c))).as(c).isNull();
      }
    }

    @Example
    void aByteOrderMarkAndLeadingWhitespaceAreSkipped() {
      for (byte[] b : List.of(Sse.concat(BOM, utf8("{\"choices\":[]}")), Sse.concat(BOM, utf8(" \t{\"choices\":[]}")),
          utf8(" \t {\"choices\":[{\"delta\":{}}]}"))) {
        ChunkScanner.Chunk chunk = scan(b);
        assertThat(chunk).as(show(b)).isNotNull();
        assertAgreesWithTree(b, chunk);
      }
    }

    @Example
    void contentAfterTheObjectIsIgnored() {
      List<byte[]> trailers = List.of(utf8("garbage"), utf8("}"), utf8("]"), utf8(","), utf8("{\"a\":"), bytes(0),
          bytes(0xFF), bytes(0x80), utf8("\n\n{\"choices\":1}"), utf8("\r\n"), utf8("\"unterminated"));
      for (byte[] trailer : trailers) {
        byte[] b = Sse.concat(utf8("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}"), trailer);
        ChunkScanner.Chunk chunk = scan(b);
        assertThat(chunk).as(show(b)).isNotNull();
        assertThat(chunk.lineBreaks).as("line breaks after the object do not count").isFalse();
        assertThat(chunk.spliceable()).isTrue();
        assertAgreesWithTree(b, chunk);
      }
    }

    @Example
    void numbersAtTheLengthLimitAreAcceptedOnlyWhereJacksonAcceptsThem() {
      int max = Sse.MAPPER.getFactory().streamReadConstraints().getMaxNumberLength();
      List<String> numbers = List.of("9".repeat(max), "9".repeat(max + 1), "-" + "9".repeat(max - 1),
          "0." + "1".repeat(max - 2), "0." + "1".repeat(max), "1e" + "0".repeat(max - 3) + "5");
      for (String n : numbers) {
        byte[] b = utf8("{\"choices\":[{\"index\":" + n + ",\"delta\":{}}],\"x\":" + n + "}");
        ChunkScanner.Chunk chunk = scan(b);
        if (chunk != null) {
          assertThat(jacksonParses(b)).as("Jackson parses a number of %s chars", n.length()).isTrue();
          assertAgreesWithTree(b, chunk);
        }
      }
      assertThat(scan(utf8("{\"x\":" + "9".repeat(max) + "}"))).isNotNull();
      assertThat(scan(utf8("{\"x\":" + "9".repeat(max + 1) + "}"))).isNull();
    }

    @Example
    void numbersWhoseExponentJacksonCannotRepresentAreRejected() {
      for (String n : List.of("1e9999999999", "1E-9999999999", "1.5e-2147483647", "0e99999999999",
          "1" + "0".repeat(300) + "e" + "1".repeat(300))) {
        byte[] b = utf8("{\"a\":" + n + "}");
        assertThat(jacksonParses(b)).as(n).isFalse();
        assertThat(scan(b)).as(n).isNull();
      }
    }
  }

  @Group
  class WriteString {

    @Provide
    Arbitrary<String> anyStrings() {
      Arbitrary<String> special = Arbitraries.strings().withChars('\u0000', '\u0001', '\b', '\t', '\n', '\u000B', '\f',
          '\r', '\u001F', ' ', '"', '\\', '/', '\u007F', '\u0080', '\u00FF', '\u07FF', '\u0800', '\u2028', '\u2029',
          '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uFEFF', '\uFFFE', '\uFFFF', 'a', 'é').ofMaxLength(4);
      Arbitrary<String> pieces = Arbitraries.oneOf(special, Arbitraries.strings().all().ofMaxLength(4),
          Arbitraries.of("😀", "\uDBFF\uDFFF", "\uD800\uDC00", "<think>", "plain text"));
      return pieces.list().ofMaxSize(8).map(l -> String.join("", l));
    }

    @Property(tries = 3000)
    void writesTheBytesJacksonWrites(@ForAll("anyStrings") String s) throws IOException {
      ByteArrayOutputStream out = new ByteArrayOutputStream();

      ChunkScanner.writeString(out, s);

      assertThat(out.toByteArray()).isEqualTo(Sse.MAPPER.writeValueAsBytes(s));
    }

    @Example
    void escapesAsJacksonDoes() {
      Map<String, String> cases = new LinkedHashMap<>();
      cases.put("😀", "\"\\uD83D\\uDE00\"");
      cases.put("\uDC00x\uD800", "\"\\uDC00x\\uD800\"");
      cases.put("\u0001\u001F\u0000", "\"\\u0001\\u001F\\u0000\"");
      cases.put("\n\t\r\b\f", "\"\\n\\t\\r\\b\\f\"");
      cases.put("\"\\/", "\"\\\"\\\\/\"");
      cases.put("\u007F\u2028é\uFFFF", "\"\u007F\u2028é\uFFFF\"");
      cases.forEach((s, expected) -> {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ChunkScanner.writeString(out, s);
        assertThat(new String(out.toByteArray(), UTF_8)).isEqualTo(expected);
      });
    }

    @Example
    void generatorProducesTheCharactersThatNeedCare() {
      List<String> sample = anyStrings().sampleStream().limit(500).toList();
      assertThat(sample).anyMatch(s -> s.chars().anyMatch(c -> c < 0x20));
      assertThat(sample).anyMatch(s -> s.contains("\u2028"));
      assertThat(sample).anyMatch(s -> s.contains("😀"));
      assertThat(sample).anyMatch(s -> s.chars().anyMatch(c -> Character.isSurrogate((char) c)) && !utf8Roundtrips(s));
    }
  }

  @Group
  class SpliceEqualsRebuild {

    enum Config {
      SPLIT(ThinkOptions.defaults(), ThinkMode.SPLIT),
      SPLIT_TO_REASONING(ThinkOptions.builder().reasoningField("reasoning").build(), ThinkMode.SPLIT),
      STRIP(ThinkOptions.defaults(), ThinkMode.STRIP),
      WRAP(ThinkOptions.defaults(), ThinkMode.WRAP);

      final ThinkOptions options;
      final ThinkMode mode;

      Config(ThinkOptions options, ThinkMode mode) {
        this.options = options;
        this.mode = mode;
      }

      ChunkRewriter rewriter() {
        return rewriter(Endpoint.CHAT_COMPLETIONS);
      }

      ChunkRewriter rewriter(Endpoint endpoint) {
        return new ChunkRewriter(options, mode, false, Sse.MAPPER, endpoint, ResponseObserver.NONE);
      }
    }

    @Provide
    Arbitrary<String> eventTexts() {
      return Arbitraries.oneOf(ThinkTexts.texts(12), ThinkTexts.texts(12), Arbitraries.strings().ofMaxLength(8),
          Arbitraries.strings().withChars('"', '\\', '\n', '\u0001', 'é', '\uD83D', '\uDE00', '<', '>', 'x')
              .ofMaxLength(8),
          Arbitraries.of("", "<think>", "</think>", "<think>x</think>y"));
    }

    @Property(tries = 400, edgeCases = EdgeCasesMode.NONE)
    @StatisticsReport(onFailureOnly = true)
    void splicingADeltaGivesTheEventsRebuildingFromTheTreeGives(@ForAll Config config,
        @ForAll @Size(min = 1, max = 6) List<@From("eventTexts") String> texts, @ForAll long seed,
        @ForAll boolean legacy) {
      Gen g = new Gen(new Random(seed), false);
      int index = g.pick(0, 0, 0, 1, 2);
      Endpoint endpoint = legacy ? Endpoint.COMPLETIONS : Endpoint.CHAT_COMPLETIONS;
      ChunkRewriter splicing = config.rewriter(endpoint);
      ChunkRewriter rebuilding = config.rewriter(endpoint);
      int spliced = 0;

      for (int k = 0; k < texts.size(); k++) {
        List<String> tokens = tokens(streamEvent(g, texts.get(k), k, k == texts.size() - 1, index, legacy));
        String[] gaps = gaps(g, tokens.size(), g.chance(0.5) ? Spacing.NONE : Spacing.SPACES, false);
        byte[] oneLine = utf8(join(tokens, gaps));
        gaps[1 + g.r.nextInt(tokens.size() - 1)] += g.pick("\n", "\r\n", "\r");
        byte[] broken = utf8(join(tokens, gaps));

        byte[] before = junk(g);
        byte[] buffer = Sse.concat(before, oneLine, junk(g));
        ChunkScanner.Chunk a = splicing.scan(buffer, before.length, oneLine.length);
        ChunkScanner.Chunk b = rebuilding.scan(broken, 0, broken.length);
        assertThat(a.spliceable()).as("one line: %s", show(oneLine)).isTrue();
        assertThat(b.spliceable()).as("line break: %s", show(broken)).isFalse();
        List<byte[]> outA = splicing.rewrite(a);
        List<byte[]> outB = rebuilding.rewrite(b);

        assertThat(normalised(outA)).as("event %s: %s", k, show(oneLine)).isEqualTo(normalised(outB));
        if (outA != null && outA.size() == 1) {
          spliced++;
        }
      }
      assertThat(normalised(splicing.flushAll())).as("flushAll").isEqualTo(normalised(rebuilding.flushAll()));
      Statistics.label("an event through the splice path").collect(spliced > 0);
      Statistics.label("legacy and spliced").collect(legacy && spliced > 0);
      Statistics.label("legacy and spliced").coverage(c -> c.check(true).percentage(p -> p > 10));
      Statistics.label("an event through the splice path").coverage(c -> c.check(true).percentage(p -> p > 30));
    }

    @Example
    void aRepeatedMemberWhoseLastValueIsNullIsTreatedAlike() {
      String compact = "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"<thi\",\"role\":null}}]}";
      String broken = compact.replace("\"delta\":", "\"delta\":\n");
      ChunkRewriter splicing = Config.SPLIT.rewriter();
      ChunkRewriter rebuilding = Config.SPLIT.rewriter();

      List<byte[]> outA = splicing.rewrite(splicing.scan(utf8(compact), 0, utf8(compact).length));
      List<byte[]> outB = rebuilding.rewrite(rebuilding.scan(utf8(broken), 0, utf8(broken).length));

      assertThat(normalised(outA)).isEqualTo(normalised(outB));
    }
  }

  // ---- the oracle: what Sse.MAPPER says ----

  /** Asserts that every field the scanner reports is what Jackson's tree (and, for repeats, its parser) says. */
  static void assertAgreesWithTree(byte[] bytes, ChunkScanner.Chunk chunk) {
    assertAgreesWithTree(bytes, chunk, false);
  }

  /** As above; {@code legacy}: the chunk was scanned as a legacy completion, whose choices hold their text. */
  static void assertAgreesWithTree(byte[] bytes, ChunkScanner.Chunk chunk, boolean legacy) {
    assertThat(chunk).as("scanned %s", show(bytes)).isNotNull();
    JsonNode tree = readTree(bytes);
    assertThat(tree).as("Jackson's tree of %s", show(bytes)).isInstanceOf(ObjectNode.class);
    if (chunk.hasUsage()) {
      assertThat(chunk.usageValue()).as("usage value of %s, parsed alone", show(bytes)).isEqualTo(tree.get("usage"));
    }
    assertThat(chunk.tree()).as("tree()").isEqualTo(tree);
    assertThat(chunk.hasUsage()).as("usage of %s", show(bytes)).isEqualTo(tree.hasNonNull("usage"));
    assertThat(chunk.error).as("error of %s", show(bytes)).isEqualTo(tree.has("error"));
    boolean lineBreaks = lineBreaksBeforeTheEnd(bytes);
    assertThat(chunk.lineBreaks).as("lineBreaks of %s", show(bytes)).isEqualTo(lineBreaks);
    JsonNode choices = tree.get("choices");
    if (choices == null || !choices.isArray()) {
      assertThat(chunk.choices).as("choices of %s", show(bytes)).isNull();
    } else {
      assertThat(chunk.choices).as("choices of %s", show(bytes)).hasSize(choices.size());
      for (int p = 0; p < choices.size(); p++) {
        ChoiceFields f = chunk.choices.get(p);
        Fields expected = legacy ? Fields.expectedLegacy(p, choices.get(p)) : Fields.expected(p, choices.get(p));
        assertThat(Fields.of(f)).as("choice %s of %s", p, show(bytes)).isEqualTo(expected);
        assertDeltaBytes(bytes, f, choices.get(p), legacy);
      }
    }
    assertThat(chunk.spliceable()).as("spliceable %s", show(bytes))
        .isEqualTo(expectedSpliceable(bytes, tree, lineBreaks, legacy));
  }

  /** What the scanner reports for one choice, as a value. */
  record Fields(int position, boolean object, int index, String finishReason, boolean logprobs, boolean delta,
      Kind content, String contentText, Kind reasoningContent, String reasoningContentText, Kind reasoning,
      String reasoningText, boolean toolCalls, boolean functionCall, boolean answer, boolean otherFields) {

    static Fields of(ChoiceFields f) {
      return new Fields(f.position, f.object, f.index, f.finishReason, f.logprobs, f.delta, f.content, f.contentText,
          f.reasoningContent, f.reasoningContentText, f.reasoning, f.reasoningText, f.toolCalls, f.functionCall,
          f.answer, f.otherFields);
    }

    /** What the tree says of the choice at {@code position}; nothing but the position when it is not an object. */
    static Fields expected(int position, JsonNode c) {
      if (!c.isObject()) {
        return notAnObject(position);
      }
      JsonNode d = c.get("delta");
      boolean isDelta = d != null && d.isObject();
      JsonNode delta = isDelta ? d : Sse.MAPPER.createObjectNode();
      boolean other = false;
      for (Map.Entry<String, JsonNode> m : delta.properties()) {
        other |= !TEXT_FIELDS.contains(m.getKey()) && !m.getValue().isNull();
      }
      JsonNode toolCalls = delta.get("tool_calls");
      JsonNode refusal = delta.get("refusal");
      boolean answer = (toolCalls != null && toolCalls.isArray() && !toolCalls.isEmpty())
          || (refusal != null && refusal.isTextual() && !refusal.textValue().isEmpty())
          || delta.hasNonNull("function_call");
      return new Fields(position, true, index(position, c), finishReason(c), c.hasNonNull("logprobs"), isDelta,
          kind(delta.get("content")), text(delta.get("content")), kind(delta.get("reasoning_content")),
          text(delta.get("reasoning_content")), kind(delta.get("reasoning")), text(delta.get("reasoning")),
          delta.hasNonNull("tool_calls"), delta.hasNonNull("function_call"), answer, other);
    }

    /** What the tree says of a legacy choice: the choice holds its text in {@code text}, and has no delta fields. */
    static Fields expectedLegacy(int position, JsonNode c) {
      if (!c.isObject()) {
        return notAnObject(position);
      }
      return new Fields(position, true, index(position, c), finishReason(c), c.hasNonNull("logprobs"), true,
          kind(c.get("text")), text(c.get("text")), kind(c.get("reasoning_content")), text(c.get("reasoning_content")),
          kind(c.get("reasoning")), text(c.get("reasoning")), false, false, false, false);
    }

    private static Fields notAnObject(int position) {
      return new Fields(position, false, position, "", false, false, Kind.ABSENT, "", Kind.ABSENT, "", Kind.ABSENT,
          "", false, false, false, false);
    }

    private static int index(int position, JsonNode c) {
      JsonNode index = c.get("index");
      return index != null && index.isInt() ? index.intValue() : position;
    }

    private static String finishReason(JsonNode c) {
      JsonNode finish = c.get("finish_reason");
      return finish != null && finish.isTextual() ? finish.textValue() : "";
    }

    private static Kind kind(JsonNode n) {
      if (n == null) {
        return Kind.ABSENT;
      }
      return n.isNull() ? Kind.NULL : n.isTextual() ? Kind.TEXT : n.isArray() ? Kind.ARRAY : Kind.OTHER;
    }

    private static String text(JsonNode n) {
      return n != null && n.isTextual() ? n.textValue() : "";
    }
  }

  /**
   * The bytes the scanner points at for the delta parse to the tree's delta; its members, put back together, parse
   * to it too, and each is tagged with the text field its key names.
   */
  private static void assertDeltaBytes(byte[] bytes, ChoiceFields f, JsonNode choice, boolean legacy) {
    if (!choice.isObject()) {
      return;
    }
    JsonNode delta = legacy ? choice : choice.get("delta");
    if (delta == null) {
      assertThat(f.deltaStart).isEqualTo(-1);
      return;
    }
    assertThat(readTree(Arrays.copyOfRange(bytes, f.deltaStart, f.deltaEnd))).as("delta bytes").isEqualTo(delta);
    if (!delta.isObject()) {
      return;
    }
    ByteArrayOutputStream joined = new ByteArrayOutputStream();
    joined.write('{');
    for (int m = 0; m < f.memberCount; m++) {
      byte[] member = Arrays.copyOfRange(bytes, f.members[ChunkScanner.MEMBER * m], f.members[ChunkScanner.MEMBER * m + 1]);
      if (m > 0) {
        joined.write(',');
      }
      joined.writeBytes(member);
      String key = readTree(Sse.concat(utf8("{"), member, utf8("}"))).fieldNames().next();
      int expected = key.equals(legacy ? "text" : "content") ? ChunkScanner.CONTENT_MEMBER : switch (key) {
        case "reasoning_content" -> ChunkScanner.REASONING_CONTENT_MEMBER;
        case "reasoning" -> ChunkScanner.REASONING_MEMBER;
        default -> ChunkScanner.OTHER_MEMBER;
      };
      assertThat(f.members[ChunkScanner.MEMBER * m + 2]).as("member %s (%s)", m, key).isEqualTo(expected);
    }
    joined.write('}');
    assertThat(readTree(joined.toByteArray())).as("delta members").isEqualTo(delta);
  }

  /**
   * Spliceable per its contract: one line, one object choice with an object delta, and neither {@code choices},
   * that choice's {@code delta} nor a text member of its delta repeated (found with Jackson's streaming parser,
   * which sees repeats the tree hides).
   */
  private static boolean expectedSpliceable(byte[] bytes, JsonNode tree, boolean lineBreaks, boolean legacy) {
    JsonNode choices = tree.get("choices");
    if (lineBreaks || choices == null || !choices.isArray() || choices.size() != 1 || !choices.get(0).isObject()
        || !(legacy || choices.get(0).path("delta").isObject())) {
      return false;
    }
    try (JsonParser p = Sse.MAPPER.createParser(bytes)) {
      p.nextToken();
      int choicesSeen = 0;
      boolean repeated = false;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        if (name.equals("choices")) {
          choicesSeen++;
          if (value == JsonToken.START_ARRAY) {
            JsonToken first = p.nextToken();
            if (first == JsonToken.START_OBJECT) {
              repeated |= legacy ? repeatsInObject(p) : repeatsInChoice(p);
            } else {
              p.skipChildren();
            }
            while (first != JsonToken.END_ARRAY && p.nextToken() != JsonToken.END_ARRAY) {
              p.skipChildren();
            }
            continue;
          }
        }
        p.skipChildren();
      }
      return choicesSeen == 1 && !repeated;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Reads a choice object (positioned at its start); whether its delta or a member of its delta repeats. */
  private static boolean repeatsInChoice(JsonParser p) throws IOException {
    int deltas = 0;
    boolean repeated = false;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String name = p.currentName();
      JsonToken value = p.nextToken();
      if (name.equals("delta")) {
        deltas++;
        if (value == JsonToken.START_OBJECT) {
          repeated |= repeatsInObject(p);
          continue;
        }
      }
      p.skipChildren();
    }
    return repeated || deltas > 1;
  }

  /** Reads an object's members (positioned at its start); whether one of its keys repeats. */
  private static boolean repeatsInObject(JsonParser p) throws IOException {
    Map<String, Integer> seen = new LinkedHashMap<>();
    boolean repeated = false;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String member = p.currentName();
      p.nextToken();
      p.skipChildren();
      if (seen.merge(member, 1, Integer::sum) > 1) {
        repeated = true;
      }
    }
    return repeated;
  }

  /** Whether a CR or LF comes before the end of the top-level object (outside strings, where JSON allows none). */
  static boolean lineBreaksBeforeTheEnd(byte[] b) {
    int i = b.length >= 3 && b[0] == BOM[0] && b[1] == BOM[1] && b[2] == BOM[2] ? 3 : 0;
    int depth = 0;
    boolean inString = false;
    for (; i < b.length; i++) {
      byte c = b[i];
      if (inString) {
        if (c == '\\') {
          i++;
        } else if (c == '"') {
          inString = false;
        }
      } else if (c == '\n' || c == '\r') {
        return true;
      } else if (c == '"') {
        inString = true;
      } else if (c == '{' || c == '[') {
        depth++;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return false;
      }
    }
    return false;
  }

  private static boolean jacksonParses(byte[] b) {
    try {
      return Sse.MAPPER.readTree(b) instanceof ObjectNode;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  static JsonNode readTree(byte[] b) {
    try {
      return Sse.MAPPER.readTree(b);
    } catch (IOException e) {
      throw new UncheckedIOException("Jackson rejects " + show(b), e);
    }
  }

  private static List<String> normalised(List<byte[]> payloads) {
    return payloads == null ? null : payloads.stream().map(p -> readTree(p).toString()).toList();
  }

  private static ChunkScanner.Chunk scan(byte[] bytes) {
    return new ChunkScanner(Sse.MAPPER, Endpoint.CHAT_COMPLETIONS).scan(bytes, 0, bytes.length);
  }

  private static ChunkScanner.Chunk scanLegacy(byte[] bytes) {
    return new ChunkScanner(Sse.MAPPER, Endpoint.COMPLETIONS).scan(bytes, 0, bytes.length);
  }

  /** Everything a scan reports, with positions relative to the payload's start. */
  private static List<Object> summary(ChunkScanner.Chunk chunk, int offset) {
    List<Object> s = new ArrayList<>(List.of(chunk.hasUsage(), chunk.error, chunk.lineBreaks, chunk.spliceable()));
    if (chunk.choices == null) {
      s.add("no choices");
      return s;
    }
    for (ChoiceFields f : chunk.choices) {
      s.add(Fields.of(f));
      s.add(f.deltaStart < 0 ? -1 : f.deltaStart - offset);
      s.add(f.deltaEnd < 0 ? -1 : f.deltaEnd - offset);
      for (int m = 0; m < f.memberCount; m++) {
        s.add(List.of(f.members[ChunkScanner.MEMBER * m] - offset, f.members[ChunkScanner.MEMBER * m + 1] - offset, f.members[ChunkScanner.MEMBER * m + 2]));
      }
    }
    return s;
  }

  /** A payload inside a larger buffer. */
  record Slice(byte[] buffer, int offset, int length) {
    @Override
    public String toString() {
      return show(Arrays.copyOf(buffer, offset)) + " [" + show(Arrays.copyOfRange(buffer, offset, offset + length))
          + "] " + show(Arrays.copyOfRange(buffer, offset + length, buffer.length));
    }
  }

  /** A few bytes that would change the scan if it read them: brackets, quotes, digits, anything. */
  private static byte[] junk(Gen g) {
    byte[] b = new byte[g.between(0, 6)];
    for (int i = 0; i < b.length; i++) {
      b[i] = g.chance(0.5) ? STRUCTURAL[g.r.nextInt(STRUCTURAL.length)] : (byte) g.r.nextInt(256);
    }
    return b;
  }

  // ---- malformed inputs ----

  /** A malformed value or key, as Latin-1 text (one char per byte), and whether the mapper rejects it too. */
  record Bad(String name, String text, boolean jacksonRejects) {}

  /** Where a value goes: every place the scanner reads with code of its own. */
  private static final List<String> VALUE_CONTEXTS = List.of("{\"a\":%s}", "{\"a\":[0,%s]}", "{\"a\":{\"b\":%s}}",
      "{\"choices\":%s}", "{\"choices\":[%s]}", "{\"choices\":[{},%s]}", "{\"choices\":[],\"a\":%s}",
      "{\"choices\":[{\"index\":%s}]}", "{\"choices\":[{\"finish_reason\":%s}]}", "{\"choices\":[{\"logprobs\":%s}]}",
      "{\"choices\":[{\"x\":%s}]}", "{\"choices\":[{\"delta\":%s}]}", "{\"choices\":[{\"delta\":{\"content\":%s}}]}",
      "{\"choices\":[{\"delta\":{\"reasoning_content\":%s}}]}", "{\"choices\":[{\"delta\":{\"reasoning\":%s}}]}",
      "{\"choices\":[{\"delta\":{\"role\":%s}}]}", "{\"choices\":[{\"delta\":{\"tool_calls\":%s}}]}",
      "{\"choices\":[{\"delta\":{\"function_call\":%s}}]}", "{\"choices\":[{\"delta\":{\"x\":%s}}]}",
      "{\"choices\":[{\"delta\":{\"refusal\":%s}}]}", "{\"choices\":[{\"delta\":{\"tool_calls\":[%s]}}]}",
      "{\"choices\":[{\"text\":%s}]}", "{\"choices\":[{\"text\":\"a\",\"stop_reason\":%s}]}",
      "{\"usage\":%s}", "{\"error\":%s}");

  private static final List<Bad> BAD_VALUES = List.of(
      new Bad("leading zero", "01", true), new Bad("negative leading zero", "-01", true),
      new Bad("double zero", "00", true), new Bad("dot without fraction", "1.", true),
      new Bad("fraction without integer", ".5", true), new Bad("plus sign", "+1", true),
      new Bad("lone minus", "-", true), new Bad("exponent without digits", "1e", true),
      new Bad("signed exponent without digits", "1e+", true), new Bad("dot before exponent", "1.e1", true),
      new Bad("negative fraction without integer", "-.5", true), new Bad("hex number", "0x1", true),
      new Bad("NaN", "NaN", true), new Bad("Infinity", "Infinity", true), new Bad("-Infinity", "-Infinity", true),
      new Bad("truncated true", "tru", true), new Bad("truncated null", "nul", true),
      new Bad("truncated false", "fals", true), new Bad("capitalised literal", "True", true),
      new Bad("single-quoted string", "'x'", true), new Bad("bad escape", "\"\\x\"", true),
      new Bad("short unicode escape", "\"\\u12\"", true), new Bad("non-hex unicode escape", "\"\\u12G4\"", true),
      new Bad("upper-case U escape", "\"\\U0041\"", true), new Bad("escaped single quote", "\"\\'\"", true),
      new Bad("raw control char", "\"a\u0001b\"", true), new Bad("raw line feed", "\"a\nb\"", true),
      new Bad("raw tab", "\"a\tb\"", true), new Bad("raw NUL", "\"\u0000\"", true),
      new Bad("raw unit separator", "\"\u001F\"", true), new Bad("unterminated string", "\"abc", true),
      new Bad("backslash at the end", "\"abc\\", true), new Bad("trailing comma in array", "[1,]", true),
      new Bad("leading comma in array", "[,1]", true), new Bad("missing comma in array", "[1 2]", true),
      new Bad("trailing comma in object", "{\"a\":1,}", true), new Bad("empty member", "{,}", true),
      new Bad("unquoted key", "{a:1}", true), new Bad("single-quoted key", "{'a':1}", true),
      new Bad("missing colon", "{\"a\" 1}", true), new Bad("missing value", "{\"a\":}", true),
      new Bad("trailing comma after the value", "1,", true), new Bad("two values", "1 2", true),
      new Bad("block comment", "/*c*/1", true), new Bad("line comment", "1//c\n", true),
      new Bad("hash comment", "1#c\n", true), new Bad("mismatched brackets", "[1}", true),
      new Bad("unclosed array", "[1", true), new Bad("unclosed object", "{\"a\":1", true),
      new Bad("raw form feed outside strings", "\f1", true), new Bad("raw NUL outside strings", "\u00001", true),
      new Bad("non-breaking space outside strings", "\u00A01", true),
      new Bad("lone continuation byte", "\"\u0080\"", true),
      new Bad("overlong NUL", "\"\u00C0\u0080\"", false), new Bad("overlong slash", "\"\u00C1\u00AF\"", false),
      new Bad("truncated 3-byte sequence", "\"\u00E2\u0082\"", true),
      new Bad("encoded surrogate", "\"\u00ED\u00A0\u0080\"", false),
      new Bad("above U+10FFFF", "\"\u00F4\u0090\u0080\u0080\"", false),
      new Bad("lead byte F5", "\"\u00F5\u0080\u0080\u0080\"", false), new Bad("byte FF", "\"\u00FF\"", true),
      new Bad("overlong 3-byte", "\"\u00E0\u0080\u00AF\"", false),
      new Bad("overlong 4-byte", "\"\u00F0\u0080\u0080\u00AF\"", false),
      new Bad("truncated 4-byte sequence", "\"\u00F0\u009F\u0098\"", true),
      new Bad("missing continuation", "\"\u00C3a\"", true));

  private static final List<String> KEY_CONTEXTS = List.of("{%s:1}", "{\"a\":{%s:1}}", "{\"choices\":[{%s:1}]}",
      "{\"choices\":[{\"delta\":{%s:1}}]}", "{\"a\":1,%s:1}", "{\"choices\":[{\"delta\":{\"content\":\"\",%s:1}}]}",
      "{\"choices\":[{\"text\":\"\",%s:1}]}");

  private static final List<Bad> BAD_KEYS = List.of(new Bad("unquoted", "a", true),
      new Bad("single-quoted", "'a'", true), new Bad("number", "1", true), new Bad("null", "null", true),
      new Bad("object", "{}", true), new Bad("array", "[]", true), new Bad("empty", "", true),
      new Bad("bad escape", "\"a\\x\"", true), new Bad("raw control char", "\"a\u0001\"", true),
      new Bad("unterminated", "\"abc", true), new Bad("lone continuation byte", "\"\u0080\"", true),
      new Bad("encoded surrogate", "\"\u00ED\u00A0\u0080\"", false),
      new Bad("key only", "\"a\"}", true));

  // ---- generators ----

  /** Generated payload bytes; prints as text with bytes outside printable ASCII as \xNN. */
  record Payload(byte[] bytes) {
    @Override
    public String toString() {
      return show(bytes);
    }
  }

  /** A source of random choices for building JSON. */
  static final class Gen {
    final Random r;
    /** Whether numbers may have exponents at the edge of what BigDecimal represents. */
    final boolean edgeExponents;

    Gen(Random r, boolean edgeExponents) {
      this.r = r;
      this.edgeExponents = edgeExponents;
    }

    boolean chance(double p) {
      return r.nextDouble() < p;
    }

    int between(int lo, int hi) {
      return lo + r.nextInt(hi - lo + 1);
    }

    @SafeVarargs
    final <T> T pick(T... xs) {
      return xs[r.nextInt(xs.length)];
    }
  }

  /** A JSON value as the generators build it: scalars keep their exact text, objects may repeat keys. */
  sealed interface Json permits Scalar, Obj, Arr {}

  record Scalar(String text) implements Json {}

  record Member(String name, String key, Json value) {}

  record Obj(List<Member> members) implements Json {}

  record Arr(List<Json> elements) implements Json {}

  private static final Scalar NULL = new Scalar("null");

  /** JSON string bodies (already escaped), mixed into generated strings. */
  private static final String[] STRING_PIECES = {"a", "hello", " ", "quo ra", "<think>", "</think>", "<thi", "/",
      "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0000", "\\u0001", "\\u001f", "\\u001F", "\\u007f",
      "\\u00e9", "\\u00E9", "\\u2028", "\\uffff", "\\ud83d\\ude00", "\\uD83D\\uDE00", "\\ud800", "\\uDFFF",
      "\\ude00\\ud83d", "\\u0063ontent", "é", "中", "😀", "\u2028", "\uFFFF", "\u007F", "\u0080", "\u07FF", "\u0800",
      "\uDBFF\uDFFF", "\uFEFF"};

  private static final String[] NUMBERS = {"0", "-0", "1", "7", "-1", "42", "2147483647", "-2147483648", "2147483648",
      "-2147483649", "9223372036854775807", "-9223372036854775809", "123456789012345678901234567890", "1.0", "-0.0",
      "0.5", "1e2", "1E2", "1e+2", "1E-2", "-1.5e10", "6.02e23", "0e0", "1.0e0", "0.000"};

  private static final String[] EDGE_NUMBERS = {"1e999999999", "1E-999999999", "-0.0e+999999999", "9e-999999999"};

  private static final byte[][] TRAILERS = {utf8(" "), utf8("\n"), utf8("\r\n"), utf8("garbage"), utf8("}"),
      utf8("]"), utf8(","), utf8("{\"a\":"), bytes(0), bytes(0xFF), bytes(0x80), utf8("\n\ndata: [DONE]")};

  /** A chunk payload: sometimes a byte-order mark, whitespace of some style, sometimes content after it. */
  static Payload chunkPayload(Gen g) {
    return chunkPayload(g, false);
  }

  /** As above; {@code legacy}: the choices are legacy completion choices, which hold their text themselves. */
  static Payload chunkPayload(Gen g, boolean legacy) {
    Json chunk = chunk(g, legacy);
    Spacing spacing = g.pick(Spacing.values());
    List<String> tokens = tokens(chunk);
    String json = join(tokens, gaps(g, tokens.size(), spacing, true));
    byte[] prefix = g.chance(0.05) ? BOM : new byte[0];
    byte[] trailer = g.chance(0.1) ? g.pick(TRAILERS) : new byte[0];
    return new Payload(Sse.concat(prefix, utf8(json), trailer));
  }

  static Obj chunk(Gen g, boolean legacy) {
    Map<String, Supplier<Json>> f = new LinkedHashMap<>();
    f.put("id", () -> string(g, "chatcmpl-" + g.between(0, 999)));
    f.put("object", () -> string(g, legacy ? "text_completion" : "chat.completion.chunk"));
    f.put("created", () -> new Scalar(g.pick("1770000000", "0", "1.5")));
    f.put("model", () -> string(g, g.pick("m", "deepseek-r1", "é😀")));
    if (g.chance(0.5)) {
      f.put("system_fingerprint", () -> g.chance(0.3) ? NULL : string(g, "fp_1"));
    }
    if (g.chance(0.93)) {
      f.put("choices", () -> choices(g, legacy));
    }
    double u = g.r.nextDouble();
    if (u < 0.4) {
      f.put("usage", () -> g.chance(0.5) ? NULL : anyObject(g, 1));
    }
    if (g.chance(0.1)) {
      f.put("error", () -> g.chance(0.3) ? NULL : anyValue(g, 2));
    }
    extras(g, f, 2, "content", "delta", "index", "finish_reason", "reasoning_content", "x_extra", "obfuscation");
    return object(g, f, 0.1, (name, old) -> f.get(name).get());
  }

  static Json choices(Gen g, boolean legacy) {
    if (g.chance(0.08)) {
      return g.pick(NULL, new Scalar("1"), new Obj(List.of()), new Scalar("\"choices\""));
    }
    int n = g.pick(0, 1, 1, 1, 1, 1, 1, 2, 3);
    List<Json> l = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      l.add(choice(g, legacy));
    }
    return new Arr(l);
  }

  /** A chat choice, or ({@code legacy}) a legacy completion choice, which holds its text members itself. */
  static Json choice(Gen g, boolean legacy) {
    if (g.chance(0.05)) {
      return g.pick(NULL, new Scalar("0"), new Scalar("\"x\""), new Arr(List.of()));
    }
    Map<String, Supplier<Json>> f = new LinkedHashMap<>();
    if (g.chance(0.85)) {
      f.put("index", () -> new Scalar(g.chance(0.6) ? g.pick("0", "1", "2") : g.pick("3", "-1", "-2147483648",
          "2147483647", "2147483648", "99999999999", "1.0", "0.0", "1e0", "-0", "\"0\"", "null", "true", "[0]",
          "{}")));
    }
    if (legacy) {
      textMembers(g, f, "text");
    } else if (g.chance(0.93)) {
      f.put("delta", () -> g.chance(0.92) ? delta(g) : g.pick(NULL, new Scalar("\"x\""), new Arr(List.of()),
          new Scalar("1"), new Obj(List.of())));
    }
    if (g.chance(0.8)) {
      f.put("finish_reason", () -> g.chance(0.7) ? new Scalar(g.pick("null", "null", "\"stop\"", "\"\"", "1",
          "true", "{}")) : string(g, g.pick("stop", "length", "tool_calls")));
    }
    if (g.chance(0.6)) {
      f.put("logprobs", () -> g.chance(0.6) ? NULL : g.pick(anyObject(g, 1), new Arr(List.of()), new Scalar("0")));
    }
    if (legacy) {
      extras(g, f, 2, "content", "delta", "stop_reason", "message", "tool_calls", "refusal", "role", "choices");
    } else {
      extras(g, f, 1, "content", "choices", "usage", "error", "message", "text", "reasoning");
    }
    return object(g, f, legacy ? 0.12 : 0.1, (name, old) -> f.get(name).get());
  }

  static Obj delta(Gen g) {
    Map<String, Supplier<Json>> f = new LinkedHashMap<>();
    textMembers(g, f, "content");
    if (g.chance(0.4)) {
      f.put("role", () -> g.chance(0.8) ? string(g, "assistant") : NULL);
    }
    if (g.chance(0.15)) {
      f.put("tool_calls", () -> g.chance(0.3) ? NULL : g.chance(0.2) ? g.pick(new Arr(List.of()), new Scalar("[ ]"))
          : toolCalls(g));
    }
    if (g.chance(0.08)) {
      f.put("function_call", () -> g.chance(0.3) ? NULL : anyObject(g, 1));
    }
    if (g.chance(0.15)) {
      f.put("refusal", () -> g.chance(0.6) ? NULL : string(g, g.pick("no", "")));
    }
    extras(g, f, 1, "index", "delta", "choices", "finish_reason", "audio", "name", "Content");
    return object(g, f, 0.12, (name, old) -> TEXT_FIELDS.contains(name) ? f.get(name).get() : again(g, f, name, old));
  }

  /** The text member ({@code content}, or a legacy choice's {@code text}) and the two reasoning fields, sometimes. */
  static void textMembers(Gen g, Map<String, Supplier<Json>> f, String textKey) {
    if (g.chance(0.8)) {
      f.put(textKey, () -> {
        double k = g.r.nextDouble();
        if (k < 0.6) {
          return new Scalar(randomString(g));
        }
        return k < 0.75 ? NULL : k < 0.85 ? parts(g) : g.pick(new Scalar("1"), new Scalar("true"),
            new Scalar("-0.5e3"), anyObject(g, 1));
      });
    }
    for (String field : List.of("reasoning_content", "reasoning")) {
      if (g.chance(0.35)) {
        f.put(field, () -> {
          double k = g.r.nextDouble();
          return k < 0.6 ? new Scalar(randomString(g)) : k < 0.85 ? NULL : anyValue(g, 1);
        });
      }
    }
  }

  /** A fresh value for a repeated delta member other than the text fields. */
  private static Json again(Gen g, Map<String, Supplier<Json>> fields, String name, Json old) {
    return fields.get(name).get();
  }

  /**
   * One event of a single-choice stream for the splice property; {@code legacy}: a legacy completion event, whose
   * choice holds the text members and has no delta.
   */
  static Obj streamEvent(Gen g, String text, int k, boolean last, int index, boolean legacy) {
    Map<String, Supplier<Json>> d = new LinkedHashMap<>();
    String textKey = legacy ? "text" : "content";
    double c = g.r.nextDouble();
    if (c < 0.8) {
      d.put(textKey, () -> new Scalar(literal(g, text, 0.05)));
    } else if (c < 0.9) {
      d.put(textKey, () -> NULL);
    }
    if (!legacy && g.chance(k == 0 ? 0.6 : 0.15)) {
      d.put("role", () -> g.chance(0.7) ? string(g, "assistant") : NULL);
    }
    for (String field : List.of("reasoning_content", "reasoning")) {
      double r = g.r.nextDouble();
      if (r < 0.15) {
        d.put(field, () -> string(g, g.pick("thinking", "a\"b\\c", "é😀", "", "<think>", "x</think>")));
      } else if (r < 0.25) {
        d.put(field, () -> NULL);
      }
    }
    if (!legacy && g.chance(0.1)) {
      d.put("refusal", () -> g.chance(0.8) ? NULL : string(g, "no"));
    }
    if (!legacy && g.chance(0.05)) {
      d.put("tool_calls", () -> g.chance(0.3) ? NULL : toolCalls(g));
    }
    if (g.chance(0.05)) {
      d.put(legacy ? "x_choice" : "x_delta", () -> anyValue(g, 1));
    }
    Map<String, Supplier<Json>> ch = new LinkedHashMap<>();
    ch.put("index", () -> new Scalar(Integer.toString(index)));
    if (legacy) {
      ch.putAll(d);
      if (g.chance(0.3)) {
        ch.put("stop_reason", () -> NULL);
      }
    } else {
      // A repeated member makes the event not spliceable.
      ch.put("delta", () -> object(g, d, 0.3, (name, old) -> null));
    }
    if (g.chance(0.8)) {
      ch.put("logprobs", () -> g.chance(0.85) ? NULL : anyObject(g, 1));
    }
    if (last && g.chance(0.7)) {
      ch.put("finish_reason", () -> string(g, g.pick("stop", "length", "tool_calls")));
    } else if (g.chance(0.8)) {
      ch.put("finish_reason", () -> NULL);
    }
    if (!legacy && g.chance(0.05)) {
      ch.put("x_choice", () -> anyValue(g, 1));
    }
    Map<String, Supplier<Json>> top = new LinkedHashMap<>();
    top.put("id", () -> string(g, "chatcmpl-1"));
    top.put("object", () -> string(g, legacy ? "text_completion" : "chat.completion.chunk"));
    top.put("created", () -> new Scalar("1770000000"));
    top.put("model", () -> string(g, "m"));
    if (g.chance(0.5)) {
      top.put("system_fingerprint", () -> string(g, "fp_1"));
    }
    top.put("choices", () -> new Arr(List.of(object(g, ch, 0, null))));
    if (g.chance(last ? 0.4 : 0.1)) {
      top.put("usage", () -> g.chance(0.5) ? NULL : anyObject(g, 1));
    }
    if (g.chance(0.1)) {
      top.put("obfuscation", () -> string(g, "abc"));
    }
    return object(g, top, 0, null);
  }

  static Json toolCalls(Gen g) {
    return new Arr(List.of(new Obj(List.of(new Member("index", "\"index\"", new Scalar("0")),
        new Member("id", "\"id\"", string(g, "call_1")),
        new Member("function", "\"function\"", new Obj(List.of(new Member("name", "\"name\"", string(g, "f")),
            new Member("arguments", "\"arguments\"", string(g, "{\"a\":1}")))))))));
  }

  static Json parts(Gen g) {
    List<Json> parts = new ArrayList<>();
    for (int i = g.between(0, 2); i > 0; i--) {
      parts.add(g.chance(0.5)
          ? new Obj(List.of(new Member("type", "\"type\"", string(g, "text")),
              new Member("text", "\"text\"", new Scalar(randomString(g)))))
          : new Obj(List.of(new Member("type", "\"type\"", string(g, "thinking")),
              new Member("thinking", "\"thinking\"", new Scalar(randomString(g))))));
    }
    return new Arr(parts);
  }

  /** Adds up to {@code max} members not otherwise present, named after keys that mean something elsewhere. */
  static void extras(Gen g, Map<String, Supplier<Json>> f, int max, String... names) {
    for (int i = g.between(0, max); i > 0; i--) {
      f.putIfAbsent(g.pick(names), () -> anyValue(g, 2));
    }
  }

  /**
   * An object of the given fields in random order; with probability {@code repeat} one of them appears a second
   * time, before or after, with the value {@code again} gives (null: not repeated).
   */
  static Obj object(Gen g, Map<String, Supplier<Json>> fields, double repeat, BiFunction<String, Json, Json> again) {
    List<Member> members = new ArrayList<>();
    fields.forEach((name, value) -> members.add(new Member(name, key(g, name), value.get())));
    Collections.shuffle(members, g.r);
    if (!members.isEmpty() && g.chance(repeat)) {
      Member m = members.get(g.r.nextInt(members.size()));
      Json v = again.apply(m.name(), m.value());
      if (v != null) {
        members.add(g.r.nextInt(members.size() + 1), new Member(m.name(), key(g, m.name()), v));
      }
    }
    return new Obj(members);
  }

  static Json anyValue(Gen g, int depth) {
    switch (g.between(0, depth > 0 ? 9 : 6)) {
      case 0:
      case 1:
        return new Scalar(randomString(g));
      case 2:
      case 3:
        return new Scalar(number(g));
      case 4:
        return new Scalar(g.pick("true", "false"));
      case 5:
      case 6:
        return NULL;
      case 7:
      case 8:
        return anyObject(g, depth - 1);
      default:
        List<Json> l = new ArrayList<>();
        for (int i = g.between(0, 3); i > 0; i--) {
          l.add(anyValue(g, depth - 1));
        }
        return new Arr(l);
    }
  }

  static Obj anyObject(Gen g, int depth) {
    List<Member> l = new ArrayList<>();
    for (int i = g.between(0, 3); i > 0; i--) {
      String name = g.pick("a", "total_tokens", "type", "text", "content", "delta", "choices", "index", "", "é",
          "k\"ey", "reasoning");
      l.add(new Member(name, key(g, name), anyValue(g, depth)));
    }
    return new Obj(l);
  }

  static String number(Gen g) {
    if (g.edgeExponents && g.chance(0.03)) {
      return g.pick(EDGE_NUMBERS);
    }
    if (g.chance(0.01)) {
      return g.pick("9".repeat(1000), "-" + "9".repeat(999), "0." + "1".repeat(998));
    }
    return g.pick(NUMBERS);
  }

  static Scalar string(Gen g, String s) {
    return new Scalar(literal(g, s, 0.05));
  }

  /** A JSON string literal mixing escaped pieces and escaped random characters; sometimes long. */
  static String randomString(Gen g) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = g.between(0, 5); i > 0; i--) {
      if (g.chance(0.5)) {
        b.append(g.pick(STRING_PIECES));
      } else {
        StringBuilder s = new StringBuilder();
        for (int j = g.between(1, 4); j > 0; j--) {
          char c = g.chance(0.3) ? (char) g.r.nextInt(0x10000) : g.pick('a', 'Z', ' ', '"', '\\', '\n', '\u0001', 'é',
              '\uD83D', '\uDE00', '/', '<', '>');
          s.append(c);
        }
        b.append(body(g, s.toString(), 0.1));
      }
    }
    if (g.chance(0.02)) {
      b.append("x".repeat(g.between(100, 3000)));
    }
    return b.append('"').toString();
  }

  /** A key: usually as is, sometimes with characters \\u-escaped. */
  static String key(Gen g, String name) {
    return literal(g, name, g.chance(0.05) ? 0.3 : 0);
  }

  static String literal(Gen g, String s, double escapeRate) {
    return "\"" + body(g, s, escapeRate) + "\"";
  }

  /**
   * The escaped body of a JSON string for {@code s}: surrogate pairs raw or escaped, lone surrogates and control
   * characters escaped (short forms or \\u, either case), other characters escaped at {@code escapeRate}.
   */
  static String body(Gen g, String s, double escapeRate) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean pair = Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
      if (pair && g.chance(0.7)) {
        b.append(c).append(s.charAt(++i));
      } else if (Character.isSurrogate(c) || g.chance(escapeRate)) {
        b.append(unicodeEscape(g, c));
      } else if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c == '/' && g.chance(0.3)) {
        b.append("\\/");
      } else if (c < 0x20) {
        int shortForm = "\b\f\n\r\t".indexOf(c);
        b.append(shortForm >= 0 && g.chance(0.7) ? "\\" + "bfnrt".charAt(shortForm) : unicodeEscape(g, c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  private static String unicodeEscape(Gen g, char c) {
    String hex = String.format("%04x", (int) c);
    return "\\u" + (g.chance(0.5) ? hex.toUpperCase(Locale.ROOT) : hex);
  }

  enum Spacing {
    NONE, SPACES, ANY
  }

  /** The JSON text of each token: punctuation, keys and scalars. */
  static List<String> tokens(Json j) {
    List<String> out = new ArrayList<>();
    tokens(j, out);
    return out;
  }

  private static void tokens(Json j, List<String> out) {
    if (j instanceof Scalar s) {
      out.add(s.text());
    } else if (j instanceof Arr a) {
      out.add("[");
      for (int i = 0; i < a.elements().size(); i++) {
        if (i > 0) {
          out.add(",");
        }
        tokens(a.elements().get(i), out);
      }
      out.add("]");
    } else if (j instanceof Obj o) {
      out.add("{");
      for (int i = 0; i < o.members().size(); i++) {
        if (i > 0) {
          out.add(",");
        }
        out.add(o.members().get(i).key());
        out.add(":");
        tokens(o.members().get(i).value(), out);
      }
      out.add("}");
    }
  }

  /** Whitespace before each token (the first gap leads the payload, and is left empty unless {@code leading}). */
  static String[] gaps(Gen g, int tokens, Spacing spacing, boolean leading) {
    String[] gaps = new String[tokens];
    for (int i = 0; i < tokens; i++) {
      gaps[i] = i == 0 && !leading ? "" : whitespace(g, spacing);
    }
    return gaps;
  }

  private static String whitespace(Gen g, Spacing spacing) {
    if (spacing == Spacing.NONE || g.chance(0.6)) {
      return "";
    }
    return spacing == Spacing.SPACES ? g.pick(" ", "\t", "  ") : g.pick(" ", "\t", "\n", "\r\n", "\r", " \n\t ");
  }

  static String join(List<String> tokens, String[] gaps) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < tokens.size(); i++) {
      b.append(gaps[i]).append(tokens.get(i));
    }
    return b.toString();
  }

  // ---- mutations ----

  private static final byte[][] INVALID_UTF8 = {bytes(0x80), bytes(0xBF), bytes(0xC0, 0x80), bytes(0xC1, 0xBF),
      bytes(0xE2, 0x82), bytes(0xE0, 0x80, 0x80), bytes(0xED, 0xA0, 0x80), bytes(0xF0, 0x80, 0x80, 0x80),
      bytes(0xF4, 0x90, 0x80, 0x80), bytes(0xF5, 0x80, 0x80, 0x80), bytes(0xFF), bytes(0xC3), bytes(0xF0, 0x9F, 0x98)};

  private static final byte[][] VALID_INSERTS = {utf8("x"), utf8("é"), utf8("😀"), utf8("\\n"), utf8("\\ud83d\\ude00"),
      utf8("\\ud800"), utf8("\\u00"), utf8("\\"), utf8("\"")};

  private static final byte[] STRUCTURAL = utf8(",}]{[\"\\019-+.eE: ntfu/'");

  static byte[] mutate(Gen g, byte[] in) {
    byte[] b = in;
    for (int i = g.between(1, 3); i > 0; i--) {
      b = mutateOnce(g, b);
    }
    return b;
  }

  private static byte[] mutateOnce(Gen g, byte[] b) {
    int at = g.r.nextInt(b.length + 1);
    int last = Math.max(0, Math.min(at, b.length - 1));
    switch (g.r.nextInt(9)) {
      case 0:
        return b.length == 0 ? b : Sse.concat(Arrays.copyOf(b, last), Arrays.copyOfRange(b, last + 1, b.length));
      case 1:
        return insert(b, at, new byte[] {special(g)});
      case 2:
        if (b.length == 0) {
          return b;
        }
        byte[] c = b.clone();
        c[last] = special(g);
        return c;
      case 3:
        return g.chance(0.5) ? Arrays.copyOf(b, at) : b;
      case 4:
        return insert(b, stringStart(g, b), g.pick(INVALID_UTF8));
      case 5:
        return insert(b, stringStart(g, b), g.pick(VALID_INSERTS));
      case 6:
        return insert(b, at, utf8(g.pick(" ", "\n", "\t", "\r")));
      default:
        List<Integer> digits = new ArrayList<>();
        for (int i = 0; i < b.length; i++) {
          if (b[i] >= '0' && b[i] <= '9') {
            digits.add(i);
          }
        }
        int pos = digits.isEmpty() ? at : digits.get(g.r.nextInt(digits.size())) + g.between(0, 1);
        return insert(b, pos, utf8(g.pick("0", "1", "9", ".", "e", "-", "+", "E", "00")));
    }
  }

  private static byte special(Gen g) {
    double k = g.r.nextDouble();
    if (k < 0.5) {
      return STRUCTURAL[g.r.nextInt(STRUCTURAL.length)];
    }
    return k < 0.75 ? (byte) g.r.nextInt(0x20) : k < 0.8 ? 0x7F : (byte) (0x80 + g.r.nextInt(0x80));
  }

  /** A position just after the opening quote of a string (key or value), or anywhere if there is none. */
  private static int stringStart(Gen g, byte[] b) {
    List<Integer> starts = new ArrayList<>();
    boolean inString = false;
    for (int i = 0; i < b.length; i++) {
      if (inString) {
        if (b[i] == '\\') {
          i++;
        } else if (b[i] == '"') {
          inString = false;
        }
      } else if (b[i] == '"') {
        inString = true;
        starts.add(i + 1);
      }
    }
    return starts.isEmpty() ? g.r.nextInt(b.length + 1) : starts.get(g.r.nextInt(starts.size()));
  }

  private static byte[] insert(byte[] b, int at, byte[] what) {
    return Sse.concat(Arrays.copyOf(b, at), what, Arrays.copyOfRange(b, at, b.length));
  }

  // ---- bytes ----

  static byte[] utf8(String s) {
    return s.getBytes(UTF_8);
  }

  static byte[] latin1(String s) {
    return s.getBytes(ISO_8859_1);
  }

  static byte[] bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      b[i] = (byte) values[i];
    }
    return b;
  }

  private static boolean utf8Roundtrips(String s) {
    return new String(utf8(s), UTF_8).equals(s);
  }

  /** Bytes as text: printable ASCII as is, everything else as \xNN. */
  static String show(byte[] b) {
    StringBuilder s = new StringBuilder();
    for (byte x : b) {
      if (x >= 0x20 && x < 0x7F) {
        s.append((char) x);
      } else {
        s.append(String.format("\\x%02X", x & 0xFF));
      }
    }
    return s.length() > 3000 ? s.substring(0, 3000) + "…" : s.toString();
  }
}
