package dev.thinkproxy;

import static dev.thinkproxy.Chunks.choice;
import static dev.thinkproxy.Chunks.chunk;
import static dev.thinkproxy.Chunks.content;
import static dev.thinkproxy.Chunks.delta;
import static dev.thinkproxy.Chunks.finish;
import static dev.thinkproxy.Chunks.role;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** How the modes relate: strip keeps exactly split's content, and split undoes wrap. */
class ModesPropertiesTest {

  @Provide
  Arbitrary<String> texts() {
    return ThinkTexts.texts(12);
  }

  /** Text without anything tag-like: what a provider puts in a native reasoning field or an answer. */
  @Provide
  Arbitrary<String> plain() {
    // Whole code points: withChars would also generate lone surrogates, which no provider sends.
    return Arbitraries.of("a", "b", "xy", " ", "\n", "\t", "é", "😀", ".").list().ofMaxSize(20)
        .map(parts -> String.join("", parts));
  }

  @Property(tries = 400)
  void stripGivesExactlySplitsContent(@ForAll("texts") String text,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts, @ForAll boolean implicitOpen,
      @ForAll boolean finishes) {
    StringBuilder upstream = new StringBuilder(Chunks.event(role(0)));
    for (String piece : SseRewriterPropertiesTest.codePointPieces(text, cuts)) {
      upstream.append(Chunks.event(content(0, piece)));
    }
    if (finishes) {
      upstream.append(Chunks.event(finish(0, "stop")));
    } // else held text is released at the end of the stream
    byte[] bytes = Sse.bytes(upstream.toString());

    Sse.Text split = Sse.clientText(Sse.run(Sse.rewriter(ThinkOptions.defaults(), ThinkMode.SPLIT, implicitOpen), bytes))
        .get(0);
    Sse.Text strip = Sse.clientText(Sse.run(Sse.rewriter(ThinkOptions.defaults(), ThinkMode.STRIP, implicitOpen), bytes))
        .get(0);

    assertThat(strip.reasoning()).isEmpty();
    assertThat(strip.content()).isEqualTo(split.content());
    assertThat(Sse.str(Sse.run(Sse.rewriter(ThinkOptions.defaults(), ThinkMode.STRIP, implicitOpen), bytes)))
        .doesNotContain("reasoning_content");
  }

  @Property(tries = 400)
  void splitOfWrapGivesBackTheProvidersSplit(@ForAll("plain") String reasoning, @ForAll("plain") String answer,
      @ForAll @Size(max = 5) List<@IntRange(min = 0, max = 1000) Integer> reasoningCuts,
      @ForAll @Size(max = 5) List<@IntRange(min = 0, max = 1000) Integer> answerCuts) {
    StringBuilder upstream = new StringBuilder(Chunks.event(role(0)));
    for (String piece : SseRewriterPropertiesTest.codePointPieces(reasoning, reasoningCuts)) {
      upstream.append(Chunks.event(chunk(choice(0, delta().put("reasoning_content", piece).putNull("content"), null))));
    }
    for (String piece : SseRewriterPropertiesTest.codePointPieces(answer, answerCuts)) {
      upstream.append(Chunks.event(content(0, piece)));
    }
    upstream.append(Chunks.event(finish(0, "stop")));

    byte[] wrapped = Sse.run(Sse.rewriter(ThinkOptions.defaults(), ThinkMode.WRAP, false), Sse.bytes(upstream.toString()));
    assertThat(Sse.str(wrapped)).doesNotContain("\"reasoning_content\"");
    Sse.Text resplit = Sse.clientText(Sse.run(Sse.splitRewriter(), wrapped)).get(0);

    // Split trims reasoning and drops the whitespace right after the closing tag, and nothing else.
    assertThat(resplit.reasoning()).isEqualTo(reasoning.strip());
    assertThat(resplit.content()).isEqualTo(reasoning.isEmpty() ? answer : answer.stripLeading());
  }
}
