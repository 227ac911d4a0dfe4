using System.ComponentModel.DataAnnotations;

namespace Herald.Relay;

/// <summary>Limits and timeouts of the relay listener's SMTP sessions; configuration section
/// <c>Relay</c> (e.g. <c>HERALD_Relay__MaxRecipients=50</c>). Defaults follow RFC 5321 and
/// Postfix's smtpd where the RFC is silent.</summary>
public sealed class RelayOptions
{
    public const string Section = "Relay";

    /// <summary>A PFX (PKCS #12) or PEM file with the certificate and its private key for
    /// STARTTLS. Empty: a self-signed certificate is generated once and kept in the data
    /// directory (<see cref="RelayCertificate.GeneratedFileName"/>).</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The password of <see cref="CertificatePath"/> (PFX, or an encrypted PEM key).</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>The name in the greeting and the EHLO reply; empty: this machine's host name.</summary>
    public string? HostName { get; set; }

    /// <summary>Largest message accepted, in octets after dot-unstuffing (advertised as SIZE).</summary>
    [Range(1024, long.MaxValue)]
    public long MaxMessageBytes { get; set; } = 25L * 1024 * 1024;

    /// <summary>DATA up to this many octets is held in memory; a larger message (or one whose
    /// MAIL FROM declared a larger SIZE) goes to a spool file in the data directory as it
    /// arrives, and from there into the outbox, so that concurrent large transfers cost disk, not
    /// memory. 0 spools every message.</summary>
    [Range(0, 64 * 1024 * 1024)]
    public int SpoolThresholdBytes { get; set; } = 1024 * 1024;

    /// <summary>Recipients per transaction; RFC 5321 §4.5.3.1.8 requires at least 100 to be accepted.</summary>
    [Range(1, 100_000)]
    public int MaxRecipients { get; set; } = 100;

    /// <summary>Command line length including CRLF (RFC 5321 §4.5.3.1.4: 512).</summary>
    [Range(512, 65_536)]
    public int MaxCommandLineLength { get; set; } = 512;

    /// <summary>Text line length in DATA including CRLF (RFC 5321 §4.5.3.1.6: 1000).</summary>
    [Range(1000, 1_000_000)]
    public int MaxTextLineLength { get; set; } = 1000;

    /// <summary>Commands in one session; then 421 and the connection is closed.</summary>
    [Range(10, int.MaxValue)]
    public int MaxCommandsPerSession { get; set; } = 10_000;

    /// <summary>4xx/5xx replies in one session; then 421 and the connection is closed
    /// (Postfix: smtpd_hard_error_limit).</summary>
    [Range(1, 10_000)]
    public int MaxErrorsPerSession { get; set; } = 20;

    /// <summary>Failed AUTH attempts in one session; then 421 and the connection is closed.</summary>
    [Range(1, 100)]
    public int MaxAuthFailures { get; set; } = 3;

    /// <summary>Added before the reply to each failed AUTH: the n-th failure waits n times this.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan AuthFailureDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Open sessions at once on this listener; more get 421 4.7.0 at connect.</summary>
    [Range(1, 100_000)]
    public int MaxSessions { get; set; } = 100;

    /// <summary>Open sessions at once from one client address (Postfix:
    /// smtpd_client_connection_count_limit).</summary>
    [Range(1, 100_000)]
    public int MaxSessionsPerAddress { get; set; } = 50;

    /// <summary>How long the server waits for each command (RFC 5321 §4.5.3.2.7: 5 minutes).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long the transfer of one message's DATA may take in all.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan DataTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long the server waits before its 220 greeting; a client that talks during
    /// this time gets 554 and is disconnected (Postfix postscreen's "pregreet" test). Zero turns
    /// the wait off (input already waiting at greeting time is still refused).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:30")]
    public TimeSpan GreetingDelay { get; set; } = TimeSpan.FromMilliseconds(250);
}
