// The release build replaces this line with the version it publishes.
export const VERSION = "0.0.0-dev";
