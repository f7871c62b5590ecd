package dev.thinkproxy;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * How reasoning is handled: the mode, the output field, the tags, and the parsing rules of
 * {@link ThinkTagProcessor}. Immutable and thread-safe; build with {@link #builder()}.
 */
public final class ThinkOptions {
  /** The default reasoning field, {@code reasoning_content}, as DeepSeek, vLLM and most clients use it. */
  public static final String DEFAULT_REASONING_FIELD = "reasoning_content";

  private static final ThinkOptions DEFAULTS = builder().build();

  private final ThinkMode mode;
  private final String reasoningField;
  private final List<ThinkTag> tags;
  private final boolean anywhere;
  private final boolean keepWhitespace;
  private final Pattern implicitOpenModels;
  private final boolean liftRequestReasoning;

  private ThinkOptions(Builder b) {
    this.mode = b.mode;
    this.reasoningField = b.reasoningField;
    this.tags = List.copyOf(b.tags);
    this.anywhere = b.anywhere;
    this.keepWhitespace = b.keepWhitespace;
    this.implicitOpenModels = b.implicitOpenModels;
    this.liftRequestReasoning = b.liftRequestReasoning;
  }

  /** The defaults: {@code split}, {@code reasoning_content}, tag {@code think}, leading blocks, trimmed whitespace. */
  public static ThinkOptions defaults() {
    return DEFAULTS;
  }

  /** A builder with the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder that starts from these options. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.mode = mode;
    b.reasoningField = reasoningField;
    b.tags = new ArrayList<>(tags);
    b.anywhere = anywhere;
    b.keepWhitespace = keepWhitespace;
    b.implicitOpenModels = implicitOpenModels;
    b.liftRequestReasoning = liftRequestReasoning;
    return b;
  }

  /** The mode; a request may override it with {@code X-Thinkproxy-Mode}. */
  public ThinkMode mode() {
    return mode;
  }

  /** The field reasoning is written to: {@code reasoning_content} (default) or {@code reasoning}. */
  public String reasoningField() {
    return reasoningField;
  }

  /** The recognised delimiter pairs. */
  public List<ThinkTag> tags() {
    return tags;
  }

  /** Whether blocks are extracted anywhere in the text rather than only at its start. */
  public boolean anywhere() {
    return anywhere;
  }

  /** Whether whitespace around tags is kept byte-exact. */
  public boolean keepWhitespace() {
    return keepWhitespace;
  }

  /** Models whose output starts inside reasoning (their template opens the tag in the prompt), or null. */
  public Pattern implicitOpenModels() {
    return implicitOpenModels;
  }

  /**
   * Whether a leading {@code <think>} block in an assistant message of the request history is moved into that
   * message's {@code reasoning_content} before forwarding.
   */
  public boolean liftRequestReasoning() {
    return liftRequestReasoning;
  }

  /** Whether the output of {@code model} starts inside reasoning by configuration. */
  public boolean implicitOpenFor(String model) {
    return implicitOpenModels != null && model != null && implicitOpenModels.matcher(model).find();
  }

  /** A processor for one choice with these rules. */
  public ThinkTagProcessor newProcessor(boolean implicitOpen) {
    return ThinkTagProcessor.builder()
        .tags(tags)
        .anywhere(anywhere)
        .keepWhitespace(keepWhitespace)
        .implicitOpen(implicitOpen)
        .build();
  }

  @Override
  public String toString() {
    return "ThinkOptions{mode=" + mode.id() + ", field=" + reasoningField + ", tags=" + tags
        + ", anywhere=" + anywhere + ", keepWhitespace=" + keepWhitespace
        + ", implicitOpenModels=" + implicitOpenModels + ", liftRequestReasoning=" + liftRequestReasoning + "}";
  }

  /** Builds {@link ThinkOptions}. */
  public static final class Builder {
    private ThinkMode mode = ThinkMode.SPLIT;
    private String reasoningField = DEFAULT_REASONING_FIELD;
    private List<ThinkTag> tags = new ArrayList<>(List.of(ThinkTag.named("think")));
    private boolean anywhere;
    private boolean keepWhitespace;
    private Pattern implicitOpenModels;
    private boolean liftRequestReasoning;

    private Builder() {}

    /** The mode. Default {@link ThinkMode#SPLIT}. */
    public Builder mode(ThinkMode mode) {
      this.mode = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /** The reasoning field: {@code reasoning_content} (default) or {@code reasoning}. */
    public Builder reasoningField(String field) {
      if (!"reasoning_content".equals(field) && !"reasoning".equals(field)) {
        throw new IllegalArgumentException("reasoning field must be reasoning_content or reasoning: " + field);
      }
      this.reasoningField = field;
      return this;
    }

    /** The delimiter pairs, in order. Default: {@code think}. */
    public Builder tags(List<ThinkTag> tags) {
      if (tags.isEmpty()) {
        throw new IllegalArgumentException("at least one think tag is required");
      }
      this.tags = new ArrayList<>(tags);
      return this;
    }

    /**
     * The tags as written in {@code --think-tags}: comma-separated names ({@code think,thinking}) or explicit
     * pairs {@code OPEN|CLOSE}.
     */
    public Builder tags(String commaSeparated) {
      List<ThinkTag> parsed = new ArrayList<>();
      for (String entry : commaSeparated.split(",")) {
        if (!entry.isBlank()) {
          parsed.add(ThinkTag.parse(entry));
        }
      }
      return tags(parsed);
    }

    /** Extract blocks anywhere in the text, not only leading ones. Default false. */
    public Builder anywhere(boolean anywhere) {
      this.anywhere = anywhere;
      return this;
    }

    /** Keep whitespace around tags byte-exact. Default false (trimmed). */
    public Builder keepWhitespace(boolean keepWhitespace) {
      this.keepWhitespace = keepWhitespace;
      return this;
    }

    /**
     * A regular expression (searched, case-insensitive) for models whose output starts inside reasoning, e.g.
     * {@code deepseek-r1|qwq}. Default: none.
     */
    public Builder implicitOpenModels(String regex) {
      this.implicitOpenModels =
          regex == null || regex.isBlank() ? null : Pattern.compile(regex, Pattern.CASE_INSENSITIVE);
      return this;
    }

    /**
     * Move a leading think block of each assistant message in the request history into its
     * {@code reasoning_content} (for clients in {@code wrap} mode talking to providers that want the reasoning back,
     * such as DeepSeek with tools). Default false: the request body is forwarded byte for byte.
     */
    public Builder liftRequestReasoning(boolean lift) {
      this.liftRequestReasoning = lift;
      return this;
    }

    /** The immutable options. */
    public ThinkOptions build() {
      return new ThinkOptions(this);
    }
  }
}
