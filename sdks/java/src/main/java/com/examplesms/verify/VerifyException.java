package com.examplesms.verify;

/** The Verify API rejected a request; {@link #body()} returns its problem document. */
public final class VerifyException extends RuntimeException {
    private final int status;
    private final String body;

    public VerifyException(int status, String body) {
        super("Verify API answered " + status + ": " + body);
        this.status = status;
        this.body = body;
    }

    /** Returns the HTTP status code. */
    public int status() {
        return status;
    }

    /** Returns the problem document as JSON text. */
    public String body() {
        return body;
    }
}
