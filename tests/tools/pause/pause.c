/* The pod sandbox ("pause") process of the local node: holds the pod's namespaces and sleeps until SIGTERM/SIGINT.
 * Built statically by scripts/cluster into a one-file image (scripts/oci-image), so the node needs no registry.
 * As PID 1 of the pod it also reaps zombies, like the upstream pause container. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction quit = {.sa_handler = stop}, child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  sigaction(SIGINT, &quit, NULL);
  sigaction(SIGTERM, &quit, NULL);
  sigaction(SIGCHLD, &child, NULL);
  for (;;) pause();
  return 0;
}
