package dev.thinkproxy;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

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
  private final @Nullable Pattern implicitOpenModels;
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

  /**
   * {@return the defaults: {@code split}, {@code reasoning_content}, tag {@code think}, leading blocks, trimmed
   * whitespace}
   */
  public static ThinkOptions defaults() {
    return DEFAULTS;
  }

  /**
   * Starts options from the defaults.
   *
   * @return a builder with the defaults
   */
  public static Builder builder() {
    return new Builder();
  }

  /** {@return a builder that starts from these options} */
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

  /** {@return the mode; a request may override it with {@code X-Thinkproxy-Mode}} */
  public ThinkMode mode() {
    return mode;
  }

  /** {@return the field reasoning is written to: {@code reasoning_content} (default) or {@code reasoning}} */
  public String reasoningField() {
    return reasoningField;
  }

  /** {@return the recognised delimiter pairs, in order; unmodifiable} */
  public List<ThinkTag> tags() {
    return tags;
  }

  /** {@return whether blocks are extracted anywhere in the text rather than only at its start} */
  public boolean anywhere() {
    return anywhere;
  }

  /** {@return whether whitespace around tags is kept byte-exact} */
  public boolean keepWhitespace() {
    return keepWhitespace;
  }

  /**
   * {@return the pattern of models whose output starts inside reasoning (their template opens the tag in the
   * prompt), or null when none is configured}
   */
  public @Nullable Pattern implicitOpenModels() {
    return implicitOpenModels;
  }

  /**
   * {@return whether a leading {@code <think>} block in an assistant message of the request history is moved into
   * that message's {@code reasoning_content} before forwarding}
   */
  public boolean liftRequestReasoning() {
    return liftRequestReasoning;
  }

  /**
   * Tells whether a model's output starts inside reasoning by configuration.
   *
   * @param model the request's {@code model}, or null when it named none
   * @return whether {@link #implicitOpenModels()} matches {@code model}; false for null
   */
  public boolean implicitOpenFor(@Nullable String model) {
    return implicitOpenModels != null && model != null && implicitOpenModels.matcher(model).find();
  }

  /**
   * Creates a processor for one choice with these rules.
   *
   * @param implicitOpen whether the text starts inside a reasoning block
   * @return a new processor
   */
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
    private @Nullable Pattern implicitOpenModels;
    private boolean liftRequestReasoning;

    private Builder() {}

    /**
     * The mode. Default {@link ThinkMode#SPLIT}.
     *
     * @param mode the mode
     * @return this builder
     */
    public Builder mode(ThinkMode mode) {
      this.mode = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /**
     * The reasoning field. Default {@code reasoning_content}.
     *
     * @param field {@code reasoning_content} or {@code reasoning}
     * @return this builder
     */
    public Builder reasoningField(String field) {
      if (!"reasoning_content".equals(field) && !"reasoning".equals(field)) {
        throw new IllegalArgumentException("reasoning field must be reasoning_content or reasoning: " + field);
      }
      this.reasoningField = field;
      return this;
    }

    /**
     * The delimiter pairs, in order. Default: {@code think}.
     *
     * @param tags at least one pair
     * @return this builder
     */
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
     *
     * @param commaSeparated the list, e.g. {@code think,thinking} or {@code ◁think▷|◁/think▷}
     * @return this builder
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

    /**
     * Extract blocks anywhere in the text, not only leading ones. Default false.
     *
     * @param anywhere whether to extract blocks anywhere
     * @return this builder
     */
    public Builder anywhere(boolean anywhere) {
      this.anywhere = anywhere;
      return this;
    }

    /**
     * Keep whitespace around tags byte-exact. Default false (trimmed).
     *
     * @param keepWhitespace whether to keep whitespace
     * @return this builder
     */
    public Builder keepWhitespace(boolean keepWhitespace) {
      this.keepWhitespace = keepWhitespace;
      return this;
    }

    /**
     * A regular expression (searched, case-insensitive) for models whose output starts inside reasoning, e.g.
     * {@code deepseek-r1|qwq}. Default: none.
     *
     * @param regex the expression, or null or blank for none
     * @return this builder
     */
    public Builder implicitOpenModels(@Nullable String regex) {
      this.implicitOpenModels =
          regex == null || regex.isBlank() ? null : Pattern.compile(regex, Pattern.CASE_INSENSITIVE);
      return this;
    }

    /**
     * Move a leading think block of each assistant message in the request history into its
     * {@code reasoning_content} (for clients in {@code wrap} mode talking to providers that want the reasoning back,
     * such as DeepSeek with tools). Default false: the request body is forwarded byte for byte.
     *
     * @param lift whether to move the blocks
     * @return this builder
     */
    public Builder liftRequestReasoning(boolean lift) {
      this.liftRequestReasoning = lift;
      return this;
    }

    /** {@return the immutable options} */
    public ThinkOptions build() {
      return new ThinkOptions(this);
    }
  }
}
