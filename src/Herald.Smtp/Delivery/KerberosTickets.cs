using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Herald.Settings;

namespace Herald.Delivery;

/// <summary>
/// The credential cache each Kerberos connection authenticates from. A connection with a keytab
/// gets a cache of its own in a private directory of this process (mode 0700), filled by MIT's
/// <c>kinit -k -t KEYTAB -c FILE:… PRINCIPAL</c> when it holds no valid ticket-granting ticket
/// (<c>klist -s</c>), so that two connections with two service accounts never share tickets and
/// Herald never reads a key itself. A connection with a credential cache uses that one as it is.
/// The ticket for the server's principal is fetched into that cache by <c>kvno</c> before the SMTP
/// exchange, so the whole conversation with the KDC is MIT's programs' (with Herald's environment:
/// KRB5_CONFIG, the system's krb5.conf), a principal the realm lacks is found before AUTH is sent,
/// and the GSSAPI library inside Herald only reads tickets from the cache.
/// </summary>
internal static class KerberosTickets
{
    private static readonly Lazy<string> Directory = new(() =>
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("herald-krb5-").FullName;
        // Tickets are credentials: none is left behind when the process ends.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Left to the temporary directory's cleaner.
            }
        };
        return directory;
    });
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Renewals = new(StringComparer.Ordinal);
    private static readonly TimeSpan ProgramTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The cache name (<c>FILE:/path</c>, <c>KCM:</c>…) with a valid ticket, or the sentence saying why there is none.</summary>
    public static async Task<(string? Cache, string? Problem)> CacheAsync(SmtpConnection settings, CancellationToken cancellationToken)
    {
        var kerberos = settings.Authentication.Kerberos!;
        var principal = kerberos.ClientPrincipal(settings.Authentication.UserName!);
        if (kerberos.Keytab is null)
        {
            var given = kerberos.CredentialCache!;
            given = given.Contains(':', StringComparison.Ordinal) ? given : $"FILE:{given}";
            // Someone else renews this cache: when it has lapsed, say so rather than blame the server's principal.
            return (await RunAsync("klist", ["-s", "-c", given], cancellationToken).ConfigureAwait(false)).Exit == 0
                ? (given, null)
                : (null, $"the credential cache {given} holds no valid ticket-granting ticket for {principal}. What to do: renew it (kinit, k5start or sssd keep it fresh), or give the service account's keytab instead (--keytab); nothing was sent.");
        }

        var cache = $"FILE:{Path.Combine(Directory.Value, Hex($"{kerberos.Keytab}\n{principal}"))}.ccache";
        var renewal = Renewals.GetOrAdd(cache, _ => new SemaphoreSlim(1, 1));
        await renewal.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if ((await RunAsync("klist", ["-s", "-c", cache], cancellationToken).ConfigureAwait(false)).Exit == 0)
            {
                return (cache, null);
            }

            var (exit, output) = await RunAsync("kinit", ["-k", "-t", kerberos.Keytab, "-c", cache, principal], cancellationToken).ConfigureAwait(false);
            return exit == 0
                ? (cache, null)
                : (null, $"Kerberos gave no ticket to {principal} from the keytab {kerberos.Keytab}: {output} What to do: check that the keytab holds this principal's current keys (klist -k -t {kerberos.Keytab}) and that the realm {kerberos.Realm} is reachable (krb5.conf, or DNS SRV records); nothing was sent.");
        }
        finally
        {
            renewal.Release();
        }
    }

    /// <summary>Puts a ticket for <paramref name="servicePrincipal"/> into <paramref name="cache"/>
    /// (<c>kvno</c>; none is asked for while the cache holds a valid one); null, or why the KDC gives none, in MIT's words.</summary>
    public static async Task<string?> ServiceTicketAsync(string cache, string servicePrincipal, CancellationToken cancellationToken)
    {
        var (exit, output) = await RunAsync("kvno", ["-q", "-c", cache, servicePrincipal], cancellationToken).ConfigureAwait(false);
        return exit == 0 ? null : output;
    }

    /// <summary>Runs an MIT Kerberos program; its exit code and one line of what it said (a missing program is exit 127).</summary>
    private static async Task<(int Exit, string Output)> RunAsync(string program, string[] arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (127, $"{program} is not installed on this node (Debian and Ubuntu: apt install krb5-user; RHEL: krb5-workstation).");
        }

        using (process)
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(ProgramTimeout);
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                return (124, $"{program} did not finish within {ProgramTimeout.TotalSeconds:0} seconds (is the KDC reachable?).");
            }

            var said = (await error.ConfigureAwait(false)).Trim();
            said = said.Length > 0 ? said : (await output.ConfigureAwait(false)).Trim();
            said = string.Join(' ', said.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            if (said.Length > 400)
            {
                said = said[..400] + "…";
            }

            return (process.ExitCode, said.Length == 0 ? "" : said.EndsWith('.') ? said : said + ".");
        }
    }

    private static string Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..24];
}
