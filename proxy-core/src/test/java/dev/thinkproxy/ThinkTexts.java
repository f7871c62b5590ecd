package dev.thinkproxy;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Tuple;

/** Test helper: texts built from tag fragments, whole tags, whitespace runs and text with multi-unit characters. */
final class ThinkTexts {
  private ThinkTexts() {}

  static Arbitrary<String> texts(int maxTokens) {
    Arbitrary<String> tagFragments = Arbitraries.of("<", "<", "</", "think", ">", "<th", "ink>", "</thi", "nk>", "/");
    Arbitrary<String> tags = Arbitraries.of("<think>", "</think>", "<THINK>", "</Think>");
    Arbitrary<String> whitespace = Arbitraries.of(" ", "\n", "\n\n", "\t", " \n ", "\r\n", "\u00A0");
    Arbitrary<String> text = Arbitraries.of("a", "b", "xy", "quo ra", "é", "😀", "a😀b", "<b>");
    Arbitrary<String> token = Arbitraries.frequencyOf(
        Tuple.of(4, tagFragments), Tuple.of(4, tags), Tuple.of(2, whitespace), Tuple.of(3, text));
    return token.list().ofMaxSize(maxTokens).map(l -> String.join("", l));
  }

  /** Like {@link #texts} with pieces of the tags {@code thinking} and {@code ◁think▷|◁/think▷} mixed in. */
  static Arbitrary<String> multiTagTexts(int maxTokens) {
    Arbitrary<String> more = Arbitraries.of("<thinking>", "</thinking>", "ing>", "<THINKING>", "◁think▷", "◁/think▷",
        "◁", "▷", "◁/", "◁thi");
    return Arbitraries.frequencyOf(Tuple.of(3, texts(1).filter(t -> !t.isEmpty())), Tuple.of(1, more))
        .list().ofMaxSize(maxTokens).map(l -> String.join("", l));
  }
}
