package dev.thinkproxy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Locale;

/**
 * The proxy's own access keys. Keys are kept and compared as SHA-256 digests, so a comparison takes the same time
 * whatever the presented value's length and however much of it matches, and every configured key is compared.
 */
final class AccessKeys {
  private final List<byte[]> digests;
  private final String header;

  AccessKeys(List<String> keys, String header) {
    this.digests = keys.stream().map(AccessKeys::digest).toList();
    this.header = header;
  }

  boolean enabled() {
    return !digests.isEmpty();
  }

  /** The header's name, lower case. */
  String header() {
    return header.toLowerCase(Locale.ROOT);
  }

  /** Throws 401 unless keys are off or {@code presented} is one of them. */
  void check(String presented) {
    if (digests.isEmpty()) {
      return;
    }
    // Keys are never blank, so a missing header ("") matches none.
    byte[] candidate = digest(presented == null ? "" : presented.strip());
    boolean match = false;
    for (byte[] d : digests) {
      match |= MessageDigest.isEqual(d, candidate);
    }
    if (!match) {
      throw ProxyException.missingKey(header);
    }
  }

  private static byte[] digest(String key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }
}
