/** Written into `__twarc.version` of every page we store (twarc2 writes its own version there). */
export const COLLECTOR_VERSION = "ujr-collector/0.1.0";
