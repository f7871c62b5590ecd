package dev.thinkproxy.load;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Samples another process on Linux: resident memory and threads from {@code /proc/PID/status}, open file
 * descriptors from {@code /proc/PID/fd}, CPU time from {@code /proc/PID/stat}, and for a JVM the heap in use after
 * a forced full GC ({@code jcmd PID GC.run}, then {@code GC.heap_info}), with the {@code jcmd} of the target's
 * own JDK.
 */
public final class ProcessStats {
  /** Clock ticks per second of {@code /proc/PID/stat} (USER_HZ, 100 on every Linux this runs on). */
  private static final double CLK_TCK = 100.0;
  private static final Pattern USED = Pattern.compile("used (\\d+)([KMG])");

  /**
   * One sample. {@code heapAfterGcBytes} and {@code rssAfterGcBytes} are -1 when not taken or unknown.
   */
  public record Sample(String label, Instant at, long rssBytes, int threads, int fds, double cpuSeconds,
      long heapAfterGcBytes, long rssAfterGcBytes) {}

  private final long pid;
  private final Path jcmd;

  /** Samples {@code pid}; {@code jcmd} is taken from the directory of the process's executable. */
  public ProcessStats(long pid) throws IOException {
    this(pid, Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "exe")).resolveSibling("jcmd"));
  }

  public ProcessStats(long pid, Path jcmd) {
    this.pid = pid;
    this.jcmd = jcmd;
  }

  /** Takes a sample; with {@code gc}, then forces a full GC through jcmd and reads the heap and RSS after it. */
  public Sample sample(String label, boolean gc) throws IOException, InterruptedException {
    Instant at = Instant.now();
    long rss = statusValue("VmRSS") * 1024;
    int threads = (int) statusValue("Threads");
    int fds = fdCount();
    double cpu = cpuSeconds();
    long heap = -1;
    long rssAfter = -1;
    if (gc) {
      jcmd("GC.run");
      heap = heapUsed(jcmd("GC.heap_info"));
      rssAfter = statusValue("VmRSS") * 1024;
    }
    return new Sample(label, at, rss, threads, fds, cpu, heap, rssAfter);
  }

  /** The JVM's flags as {@code jcmd PID VM.flags} reports them (ergonomic choices included). */
  public String vmFlags() throws IOException, InterruptedException {
    String out = jcmd("VM.flags");
    int colon = out.indexOf(":\n");
    return (colon >= 0 ? out.substring(colon + 2) : out).strip();
  }

  long statusValue(String field) throws IOException {
    for (String line : Files.readAllLines(procFile("status"), StandardCharsets.ISO_8859_1)) {
      if (line.startsWith(field + ":")) {
        return Long.parseLong(line.substring(field.length() + 1).strip().split("\\s+")[0]);
      }
    }
    throw new IOException("no " + field + " in /proc/" + pid + "/status");
  }

  int fdCount() throws IOException {
    try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
      return (int) fds.count();
    }
  }

  double cpuSeconds() throws IOException {
    String stat = Files.readString(procFile("stat"), StandardCharsets.ISO_8859_1);
    // The command name in parentheses may contain spaces; the fields after it start with the state (field 3).
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    long utime = Long.parseLong(f[11]);
    long stime = Long.parseLong(f[12]);
    return (utime + stime) / CLK_TCK;
  }

  /** The sum of the {@code used} sizes of the heap's spaces, the lines before Metaspace; -1 if none. */
  static long heapUsed(String heapInfo) {
    long total = 0;
    boolean found = false;
    for (String line : heapInfo.split("\n")) {
      if (line.contains("Metaspace")) {
        break;
      }
      Matcher m = USED.matcher(line);
      if (m.find()) {
        found = true;
        long n = Long.parseLong(m.group(1));
        total += switch (m.group(2)) {
          case "K" -> n << 10;
          case "M" -> n << 20;
          default -> n << 30;
        };
      }
    }
    return found ? total : -1;
  }

  private Path procFile(String name) {
    return Path.of("/proc", Long.toString(pid), name);
  }

  private String jcmd(String command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(List.of(jcmd.toString(), Long.toString(pid), command))
        .redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IOException("jcmd " + command + " failed: " + new String(out, StandardCharsets.UTF_8).strip());
    }
    return new String(out, StandardCharsets.UTF_8);
  }
}
