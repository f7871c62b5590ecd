package dev.thinkproxy;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Pattern;
import okhttp3.HttpUrl;
import org.jspecify.annotations.Nullable;

/**
 * Short names for providers' base URLs, so that a client can use {@code http://proxy/proxy/groq/v1} as its base
 * URL instead of putting {@code https://api.groq.com/openai/v1} in the path. A request to
 * {@code /proxy/NAME/v1/REST} goes to {@code BASE/REST}: the base URL is the one the provider documents for
 * OpenAI SDKs, which stands for the client's {@code /v1}.
 *
 * <p>Names are lower case letters, digits, {@code -} and {@code _}, so a name can never be read as a URL (every
 * URL form in a path has a {@code :} or a {@code %} in its first segment), and are matched case-insensitively.
 * {@code http} and {@code https} are not names. The targets of aliases are still checked by the
 * {@link TargetPolicy}: the local entries ({@code ollama}, {@code vllm}, {@code lmstudio}, {@code sglang}) work
 * only when private networks, or those hosts, are allowed.
 *
 * <table>
 *   <caption>Built-in providers ({@link #builtIn()})</caption>
 *   <tr><th>name</th><th>base URL</th></tr>
 *   <tr><td>openai</td><td>https://api.openai.com/v1</td></tr>
 *   <tr><td>anthropic</td><td>https://api.anthropic.com/v1</td></tr>
 *   <tr><td>openrouter</td><td>https://openrouter.ai/api/v1</td></tr>
 *   <tr><td>deepseek</td><td>https://api.deepseek.com/v1</td></tr>
 *   <tr><td>groq</td><td>https://api.groq.com/openai/v1</td></tr>
 *   <tr><td>together</td><td>https://api.together.xyz/v1</td></tr>
 *   <tr><td>fireworks</td><td>https://api.fireworks.ai/inference/v1</td></tr>
 *   <tr><td>chutes</td><td>https://llm.chutes.ai/v1</td></tr>
 *   <tr><td>mistral</td><td>https://api.mistral.ai/v1</td></tr>
 *   <tr><td>gemini</td><td>https://generativelanguage.googleapis.com/v1beta/openai</td></tr>
 *   <tr><td>xai</td><td>https://api.x.ai/v1</td></tr>
 *   <tr><td>cerebras</td><td>https://api.cerebras.ai/v1</td></tr>
 *   <tr><td>sambanova</td><td>https://api.sambanova.ai/v1</td></tr>
 *   <tr><td>deepinfra</td><td>https://api.deepinfra.com/v1/openai</td></tr>
 *   <tr><td>moonshot</td><td>https://api.moonshot.ai/v1</td></tr>
 *   <tr><td>perplexity</td><td>https://api.perplexity.ai</td></tr>
 *   <tr><td>ollama</td><td>http://localhost:11434/v1</td></tr>
 *   <tr><td>vllm</td><td>http://localhost:8000/v1</td></tr>
 *   <tr><td>sglang</td><td>http://localhost:30000/v1</td></tr>
 *   <tr><td>lmstudio</td><td>http://localhost:1234/v1</td></tr>
 * </table>
 *
 * <p>Immutable and thread-safe.
 */
public final class ProviderAliases {
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");

  private static final ProviderAliases BUILT_IN = builder()
      .put("openai", "https://api.openai.com/v1")
      .put("anthropic", "https://api.anthropic.com/v1")
      .put("openrouter", "https://openrouter.ai/api/v1")
      .put("deepseek", "https://api.deepseek.com/v1")
      .put("groq", "https://api.groq.com/openai/v1")
      .put("together", "https://api.together.xyz/v1")
      .put("fireworks", "https://api.fireworks.ai/inference/v1")
      .put("chutes", "https://llm.chutes.ai/v1")
      .put("mistral", "https://api.mistral.ai/v1")
      .put("gemini", "https://generativelanguage.googleapis.com/v1beta/openai")
      .put("xai", "https://api.x.ai/v1")
      .put("cerebras", "https://api.cerebras.ai/v1")
      .put("sambanova", "https://api.sambanova.ai/v1")
      .put("deepinfra", "https://api.deepinfra.com/v1/openai")
      .put("moonshot", "https://api.moonshot.ai/v1")
      .put("perplexity", "https://api.perplexity.ai")
      .put("ollama", "http://localhost:11434/v1")
      .put("vllm", "http://localhost:8000/v1")
      .put("sglang", "http://localhost:30000/v1")
      .put("lmstudio", "http://localhost:1234/v1")
      .build();

  private static final ProviderAliases NONE = builder().build();

  private final Map<String, HttpUrl> bases;

  private ProviderAliases(Map<String, HttpUrl> bases) {
    this.bases = Collections.unmodifiableMap(new TreeMap<>(bases));
  }

  /** {@return the built-in set of well-known providers (see the table above)} */
  public static ProviderAliases builtIn() {
    return BUILT_IN;
  }

  /** {@return no aliases: every request names its base URL} */
  public static ProviderAliases none() {
    return NONE;
  }

  /**
   * Starts a set of aliases from none.
   *
   * @return an empty builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** {@return a builder holding these aliases, to override or extend them} */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.bases.putAll(bases);
    return b;
  }

  /**
   * Checks an alias name.
   *
   * @param name the name, or null
   * @return whether {@code name} is a valid alias name: lower case letters, digits, {@code -} and {@code _}, at most
   *     64 characters, not {@code http} or {@code https}
   */
  public static boolean isValidName(@Nullable String name) {
    return name != null && NAME.matcher(name).matches() && !name.equals("http") && !name.equals("https");
  }

  /** {@return the aliases and their base URLs (without a trailing slash), sorted by name; unmodifiable} */
  public Map<String, String> asMap() {
    Map<String, String> out = new LinkedHashMap<>();
    bases.forEach((name, url) -> out.put(name, baseString(url)));
    return Collections.unmodifiableMap(out);
  }

  /** {@return whether there are no aliases} */
  public boolean isEmpty() {
    return bases.isEmpty();
  }

  /** The base URL of an alias, matched case-insensitively, or null. */
  @Nullable HttpUrl base(String name) {
    return bases.get(name.toLowerCase(Locale.ROOT));
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof ProviderAliases && ((ProviderAliases) o).bases.equals(bases);
  }

  @Override
  public int hashCode() {
    return bases.hashCode();
  }

  @Override
  public String toString() {
    return asMap().toString();
  }

  private static String baseString(HttpUrl url) {
    String s = url.toString();
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }

  /** Builds {@link ProviderAliases}. */
  public static final class Builder {
    private final Map<String, HttpUrl> bases = new TreeMap<>();

    private Builder() {}

    /**
     * Adds an alias, or replaces the base URL of an existing one.
     *
     * @param name lower case letters, digits, {@code -} and {@code _}, at most 64 characters
     * @param baseUrl the provider's base URL for OpenAI clients, e.g. {@code https://api.groq.com/openai/v1}: http or
     *     https, with no user info, query or fragment
     * @return this builder
     * @throws IllegalArgumentException naming what is wrong
     */
    public Builder put(String name, String baseUrl) {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(baseUrl, "baseUrl");
      String key = name.strip().toLowerCase(Locale.ROOT);
      if (!isValidName(key)) {
        throw new IllegalArgumentException("invalid provider name '" + name + "': use lower case letters, digits, "
            + "'-' and '_' (not http or https), at most 64 characters");
      }
      bases.put(key, parseBase(key, baseUrl.strip()));
      return this;
    }

    /**
     * Removes an alias, if present.
     *
     * @param name the alias name, matched case-insensitively
     * @return this builder
     */
    public Builder remove(String name) {
      bases.remove(name.strip().toLowerCase(Locale.ROOT));
      return this;
    }

    /** {@return the immutable aliases} */
    public ProviderAliases build() {
      return new ProviderAliases(bases);
    }

    private static HttpUrl parseBase(String name, String baseUrl) {
      HttpUrl url = HttpUrl.parse(baseUrl);
      String problem = null;
      if (url == null) {
        problem = "not an http or https URL";
      } else if (!url.username().isEmpty() || !url.password().isEmpty()) {
        problem = "it must not contain user info";
      } else if (url.encodedQuery() != null || url.encodedFragment() != null) {
        problem = "it must not have a query or fragment";
      } else if (!baseUrl.regionMatches(true, 0, url.scheme() + "://", 0, url.scheme().length() + 3)) {
        problem = "it must start with http:// or https://";
      }
      if (problem != null) {
        throw new IllegalArgumentException("invalid base URL for provider '" + name + "' (" + baseUrl + "): " + problem);
      }
      return url;
    }
  }
}
