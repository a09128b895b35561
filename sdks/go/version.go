package verify

// Version is the SDK release; the release build replaces this line.
const Version = "0.0.0-dev"
