package dev.thinkproxy.load;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The open-file limit of the processes of a run. Ten thousand streams through the proxy need 20,000 sockets in
 * the proxy and 10,000 in each of the client and the mock, more than a usual limit allows, so children start
 * under {@code prlimit} and the runner raises its own limit. Raising a hard limit takes root with
 * CAP_SYS_RESOURCE; without it every process keeps the limit it inherits, with a warning, and the report shows
 * the limits in force.
 */
final class FileLimits {
  static final int WANTED = 65536;
  private static List<String> prefix;
  private static boolean prlimitLooked;
  private static String prlimitPath;

  private FileLimits() {}

  /** The command prefix that starts a child with the wanted limit, or nothing (with a warning) if it cannot. */
  static synchronized List<String> childPrefix() throws InterruptedException {
    if (prefix == null) {
      String prlimit = prlimit();
      List<String> candidate = prlimit == null ? List.of()
          : List.of(prlimit, "--nofile=" + WANTED + ":" + WANTED, "--");
      prefix = candidate.isEmpty() || works("the children's", candidate, "true") ? candidate : List.of();
    }
    return prefix;
  }

  /** Raises this process's own limit; warns and goes on if it cannot. */
  static void raiseOwn() throws InterruptedException {
    String prlimit = prlimit();
    if (prlimit != null && openFileLimit("self") < WANTED) {
      works("this process's", List.of(prlimit, "--pid", Long.toString(ProcessHandle.current().pid()),
          "--nofile=" + WANTED + ":" + WANTED));
    }
  }

  /** The soft open-file limit of a process ({@code self} or a pid), from its {@code limits}; -1 if unknown. */
  static long openFileLimit(String pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", pid, "limits"))) {
        if (line.startsWith("Max open files")) {
          String v = line.substring("Max open files".length()).strip().split("\\s+")[0];
          return v.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(v);
        }
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }

  private static boolean works(String whose, List<String> command, String... then) throws InterruptedException {
    List<String> full = new ArrayList<>(command);
    full.addAll(List.of(then));
    String why;
    try {
      Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
      why = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) {
        return true;
      }
    } catch (IOException e) {
      why = e.getMessage();
    }
    System.err.println("warning: cannot raise " + whose + " open-file limit to " + WANTED + " (" + why
        + "; raising a hard limit needs CAP_SYS_RESOURCE): going on with " + openFileLimit("self"));
    return false;
  }

  private static synchronized String prlimit() {
    if (prlimitLooked) {
      return prlimitPath;
    }
    prlimitLooked = true;
    if (effectiveUid() != 0) {
      System.err.println("warning: not running as root: the open-file limits stay as they are ("
          + openFileLimit("self") + ")");
      return null;
    }
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
      File f = new File(dir, "prlimit");
      if (f.canExecute()) {
        prlimitPath = f.getPath();
        return prlimitPath;
      }
    }
    System.err.println("warning: prlimit not found: the open-file limits stay as they are ("
        + openFileLimit("self") + ")");
    return null;
  }

  private static int effectiveUid() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:")) {
          return Integer.parseInt(line.substring(4).strip().split("\\s+")[1]);
        }
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }
}
