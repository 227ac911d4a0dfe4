using System.Security.Cryptography.X509Certificates;
using Herald.Testing;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>
/// A private Dovecot (Debian's dovecot-imapd and dovecot-pop3d) serving one kind of mailbox to
/// any user with <see cref="Password"/>: IMAP with implicit TLS and POP3 with STARTTLS on loopback
/// ports, the certificate and key of the Postfix fixture's CA (trusted by pinning its ca.pem),
/// Maildirs in its own temporary directory. Started like <see cref="DovecotSubmission"/>.
/// Started with <see cref="StartReceivingBouncesAsync"/>, it is also the Postfix fixture's LMTP
/// server (Debian's dovecot-lmtpd): what Postfix writes to <c>anything+detail@</c> its
/// <see cref="PostfixFixture.LmtpDomain"/> lands in user <c>anything</c>'s INBOX.
/// </summary>
public sealed class DovecotMailbox : IDisposable
{
    public const string Password = "mailbox-pass-123";

    private readonly string _config;
    private IDisposable? _lmtp;

    private DovecotMailbox(string directory)
    {
        Directory = directory;
        _config = Path.Combine(directory, "dovecot.conf");
    }

    public string Directory { get; }

    public int ImapsPort { get; } = LoopbackPort.Free();

    public int Pop3Port { get; private set; }

    public string Log => File.Exists(Path.Combine(Directory, "dovecot.log")) ? File.ReadAllText(Path.Combine(Directory, "dovecot.log")) : "";

    public static Task<DovecotMailbox> StartAsync(PostfixFixture postfix) => StartAsync(postfix, lmtp: null);

    /// <summary>Also listens on the fixture's LMTP socket (waiting until no other test does), so
    /// that the DSNs Postfix writes to a bounce address at its LMTP domain are delivered here.</summary>
    public static async Task<DovecotMailbox> StartReceivingBouncesAsync(PostfixFixture postfix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(postfix);
        var reservation = await postfix.ReserveLmtpAsync(cancellationToken);
        try
        {
            return await StartAsync(postfix, reservation);
        }
        catch
        {
            reservation.Dispose();
            throw;
        }
    }

    private static async Task<DovecotMailbox> StartAsync(PostfixFixture postfix, IDisposable? lmtp)
    {
        ArgumentNullException.ThrowIfNull(postfix);
        var directory = DovecotSubmission.CreateDirectory();
        var dovecot = new DovecotMailbox(directory);
        do
        {
            dovecot.Pop3Port = LoopbackPort.Free();
        }
        while (dovecot.Pop3Port == dovecot.ImapsPort);

        var home = Path.Combine(directory, "home");
        // recipient_delimiter: bounces+TOKEN is user bounces; %Ln: LMTP looks users up by their
        // whole address, IMAP and POP3 log in without a domain, and both reach the same home.
        var delivery = lmtp is null ? "" : $$"""
            recipient_delimiter = +
            service lmtp {
              unix_listener {{postfix.LmtpSocket}} {
                mode = 0666
              }
            }
            """;
        File.Copy(postfix.Pki("server.pem"), Path.Combine(directory, "server.pem"));
        File.Copy(postfix.Pki("server.key"), Path.Combine(directory, "server.key"));
        await File.WriteAllTextAsync(dovecot._config, $$"""
            base_dir = {{directory}}/run
            state_dir = {{directory}}/state
            log_path = {{directory}}/dovecot.log
            protocols = imap pop3{{(lmtp is null ? "" : " lmtp")}}
            listen = 127.0.0.1
            ssl = yes
            ssl_cert = <{{directory}}/server.pem
            ssl_key = <{{directory}}/server.key
            disable_plaintext_auth = yes
            auth_mechanisms = plain login
            auth_failure_delay = 0
            hostname = dovecot.test
            mail_location = maildir:~/Maildir
            pop3_uidl_format = %08Xu%08Xv
            auth_username_format = %Ln
            {{delivery}}
            {{await DovecotSubmission.UserSettingsAsync()}}
            service imap-login {
              inet_listener imap {
                port = 0
              }
              inet_listener imaps {
                address = 127.0.0.1
                port = {{dovecot.ImapsPort}}
                ssl = yes
              }
            }
            service pop3-login {
              inet_listener pop3 {
                address = 127.0.0.1
                port = {{dovecot.Pop3Port}}
              }
              inet_listener pop3s {
                port = 0
              }
            }
            passdb {
              driver = static
              args = password={{Password}}
            }
            userdb {
              driver = static
              # allow_all_users: LMTP asks for no password, so there is no passdb lookup to say who exists.
              args = {{await DovecotSubmission.MailOwnerAsync()}} home={{home}}/%u allow_all_users=yes
            }

            """);
        await DovecotSubmission.StartMasterAsync(dovecot._config, () => dovecot.Log, dovecot.ImapsPort);
        dovecot._lmtp = lmtp;
        return dovecot;
    }

    /// <summary>Puts <paramref name="mime"/> into <paramref name="user"/>'s INBOX with IMAP APPEND.</summary>
    public async Task AppendAsync(string user, string ca, IEnumerable<byte[]> mime, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mime);
        using var client = await OpenAsync(user, ca, cancellationToken);
        foreach (var bytes in mime)
        {
            using var message = MimeMessage.Load(new MemoryStream(bytes), cancellationToken);
            await client.Inbox.AppendAsync(message, MessageFlags.None, cancellationToken);
        }

        await client.DisconnectAsync(true, cancellationToken);
    }

    /// <summary>How many messages each of <paramref name="user"/>'s folders holds, by full name.</summary>
    public async Task<IReadOnlyDictionary<string, int>> CountsAsync(string user, string ca, CancellationToken cancellationToken)
    {
        using var client = await OpenAsync(user, ca, cancellationToken);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var folder in await client.GetFoldersAsync(client.PersonalNamespaces[0], cancellationToken: cancellationToken))
        {
            await folder.StatusAsync(StatusItems.Count, cancellationToken);
            counts[folder.FullName.Replace(folder.DirectorySeparator, '/')] = folder.Count;
        }

        await client.DisconnectAsync(true, cancellationToken);
        return counts;
    }

    /// <summary>An IMAP client signed in as <paramref name="user"/>, trusting the CA <paramref name="ca"/>.</summary>
    public async Task<ImapClient> OpenAsync(string user, string ca, CancellationToken cancellationToken)
    {
        var client = new ImapClient();
        var authority = X509CertificateLoader.LoadCertificateFromFile(ca);
        client.ServerCertificateValidationCallback = (_, certificate, _, _) =>
        {
            if (certificate is null)
            {
                return false;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(authority);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            return chain.Build(leaf);
        };
        await client.ConnectAsync("127.0.0.1", ImapsPort, SecureSocketOptions.SslOnConnect, cancellationToken);
        await client.AuthenticateAsync(user, Password, cancellationToken);
        return client;
    }

    public void Dispose()
    {
        DovecotSubmission.Stop(_config, Directory);
        _lmtp?.Dispose();
    }
}
