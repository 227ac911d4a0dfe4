using System.Net.Sockets;
using Herald.Bounces;
using Herald.Delivery;
using Herald.Settings;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Security;
using MimeKit;

namespace Herald.Smtp.Bounces;

/// <summary>Bounce mailboxes read with MailKit: IMAP (IDLE when the server has it) or POP3, with
/// implicit TLS or STARTTLS and the server certificate checked as SMTP connections check theirs
/// (system roots, a pinned CA or a pinned thumbprint). Failures become a
/// <see cref="BounceMailboxException"/> with a sentence that names no secret.</summary>
public sealed class MailKitBounceMailbox : IBounceMailboxClient
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public async Task<IBounceMailboxSession> OpenAsync(MailboxLogin login, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(login);
        var settings = login.Settings;
        var trust = new ServerCertificateCheck(settings.Trust);
        MailService client = settings.Protocol == MailboxProtocol.Imap ? new ImapClient() : new Pop3Client();
        client.ServerCertificateValidationCallback = trust.Validate;
        client.CheckCertificateRevocation = settings.Trust.Mode == ServerTrustMode.System;
        client.Timeout = (int)Timeout.TotalMilliseconds;
        try
        {
            await client.ConnectAsync(settings.Host, settings.Port, settings.Security switch
            {
                MailboxSecurity.ImplicitTls => SecureSocketOptions.SslOnConnect,
                MailboxSecurity.StartTls => SecureSocketOptions.StartTls,
                _ => SecureSocketOptions.None,
            }, cancellationToken).ConfigureAwait(false);
            await client.AuthenticateAsync(login.UserName, login.Password, cancellationToken).ConfigureAwait(false);
            if (client is ImapClient imap)
            {
                var folder = await imap.GetFolderAsync(settings.Folder, cancellationToken).ConfigureAwait(false);
                await folder.OpenAsync(FolderAccess.ReadWrite, cancellationToken).ConfigureAwait(false);
                return new ImapSession(imap, folder);
            }

            return new Pop3Session((Pop3Client)client);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            throw new BounceMailboxException(Describe(ex, settings, trust.Rejection), ex);
        }
    }

    internal static string Describe(Exception exception, BounceMailboxSettings settings, string? trustRejection = null)
    {
        var where = $"{MailboxNames.Protocols.NameOf(settings.Protocol)} {settings.Host}:{settings.Port}";
        return exception switch
        {
            AuthenticationException => $"{where} refused the user name and password.",
            SslHandshakeException when trustRejection is not null => $"{where}: the server certificate is not trusted: {trustRejection}.",
            SslHandshakeException => $"{where}: TLS failed: {exception.Message}",
            SocketException or TimeoutException or OperationCanceledException => $"{where} cannot be reached: {exception.Message}",
            FolderNotFoundException => $"{where} has no folder '{settings.Folder}'.",
            _ => $"{where}: {exception.Message}",
        };
    }

    /// <summary>Reads a message of at most <paramref name="maxBytes"/> (the server's size, checked
    /// before anything is downloaded); a larger or broken one comes back without its MIME.</summary>
    private static async Task<FetchedMail> ReadAsync(string handle, long size, long maxBytes, Func<Task<MimeMessage>> read)
    {
        if (size > maxBytes)
        {
            return new FetchedMail(handle, null, $"{size:N0} bytes, more than the {maxBytes:N0} read");
        }

        try
        {
            return new FetchedMail(handle, await read().ConfigureAwait(false), null);
        }
        catch (FormatException ex)
        {
            return new FetchedMail(handle, null, $"not MIME: {ex.Message}");
        }
    }

    private sealed class ImapSession(ImapClient client, IMailFolder folder) : IBounceMailboxSession
    {
        private IMailFolder? _unmatched;

        public bool MovesKeptMail => true;

        public bool StaysCurrent => true;

        public async Task<IReadOnlyList<FetchedMail>> FetchAsync(int most, long maxBytes, IReadOnlySet<string> skip, CancellationToken cancellationToken)
        {
            if (folder.Count == 0)
            {
                return [];
            }

            var summaries = await folder.FetchAsync(0, Math.Min(folder.Count, most) - 1, MessageSummaryItems.UniqueId | MessageSummaryItems.Size, cancellationToken).ConfigureAwait(false);
            var fetched = new List<FetchedMail>(summaries.Count);
            foreach (var summary in summaries)
            {
                var handle = summary.UniqueId.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
                fetched.Add(await ReadAsync(handle, summary.Size ?? 0, maxBytes, () => folder.GetMessageAsync(summary.UniqueId, cancellationToken)).ConfigureAwait(false));
            }

            return fetched;
        }

        public async Task SettleAsync(IReadOnlyList<string> processed, IReadOnlyList<string> kept, CancellationToken cancellationToken)
        {
            if (kept.Count > 0)
            {
                _unmatched ??= await UnmatchedFolderAsync(cancellationToken).ConfigureAwait(false);
                await folder.MoveToAsync(Uids(kept), _unmatched, cancellationToken).ConfigureAwait(false);
            }

            if (processed.Count > 0)
            {
                var uids = Uids(processed);
                await folder.AddFlagsAsync(uids, MessageFlags.Deleted, silent: true, cancellationToken).ConfigureAwait(false);
                if (client.Capabilities.HasFlag(ImapCapabilities.UidPlus))
                {
                    await folder.ExpungeAsync(uids, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await folder.ExpungeAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        public async Task WaitForMailAsync(TimeSpan most, CancellationToken cancellationToken)
        {
            if (!client.Capabilities.HasFlag(ImapCapabilities.Idle))
            {
                await Task.Delay(most, cancellationToken).ConfigureAwait(false);
                await folder.CheckAsync(cancellationToken).ConfigureAwait(false);
                return;
            }

            using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            done.CancelAfter(most);
            void Arrived(object? sender, EventArgs e) => done.Cancel();
            folder.CountChanged += Arrived;
            try
            {
                await client.IdleAsync(done.Token, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                folder.CountChanged -= Arrived;
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (client.IsConnected)
                {
                    await client.DisconnectAsync(quit: true).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ImapProtocolException or ImapCommandException)
            {
                // Closing politely is a courtesy; the socket is closed below either way.
            }

            client.Dispose();
        }

        private static UniqueId[] Uids(IReadOnlyList<string> handles) =>
            handles.Select(h => new UniqueId(uint.Parse(h, System.Globalization.CultureInfo.InvariantCulture))).ToArray();

        /// <summary>The folder unmatched mail is kept in, created on first use.</summary>
        private async Task<IMailFolder> UnmatchedFolderAsync(CancellationToken cancellationToken)
        {
            IMailFolder parent = client.GetFolder(client.PersonalNamespaces[0]) ?? client.Inbox;
            foreach (var name in IBounceMailboxSession.UnmatchedFolder.Split('/'))
            {
                var children = await parent.GetSubfoldersAsync(false, cancellationToken).ConfigureAwait(false);
                parent = children.FirstOrDefault(f => f.Name == name)
                    ?? await parent.CreateAsync(name, isMessageFolder: true, cancellationToken).ConfigureAwait(false)
                    ?? throw new BounceMailboxException($"The IMAP server did not create the folder {IBounceMailboxSession.UnmatchedFolder}.");
            }

            return parent;
        }
    }

    private sealed class Pop3Session(Pop3Client client) : IBounceMailboxSession
    {
        /// <summary>Marked deleted in this session: gone at QUIT, still counted until then.</summary>
        private readonly HashSet<string> _deleted = new(StringComparer.Ordinal);

        public bool MovesKeptMail => false;

        public bool StaysCurrent => false;

        public async Task<IReadOnlyList<FetchedMail>> FetchAsync(int most, long maxBytes, IReadOnlySet<string> skip, CancellationToken cancellationToken)
        {
            // POP3 shows a mailbox as it was at sign-in and deletes at QUIT: one batch per session.
            if (client.Count == 0)
            {
                return [];
            }

            var uids = client.SupportsUids ? await client.GetMessageUidsAsync(cancellationToken).ConfigureAwait(false) : null;
            var sizes = await client.GetMessageSizesAsync(cancellationToken).ConfigureAwait(false);
            var fetched = new List<FetchedMail>();
            for (var i = 0; i < client.Count && fetched.Count < most; i++)
            {
                var index = i;
                var handle = $"{index}:{uids?[index] ?? index.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
                if (skip.Contains(handle) || _deleted.Contains(handle))
                {
                    continue;
                }

                fetched.Add(await ReadAsync(handle, sizes[index], maxBytes, () => client.GetMessageAsync(index, cancellationToken)).ConfigureAwait(false));
            }

            return fetched;
        }

        public async Task SettleAsync(IReadOnlyList<string> processed, IReadOnlyList<string> kept, CancellationToken cancellationToken)
        {
            if (processed.Count > 0)
            {
                await client.DeleteMessagesAsync(processed.Select(h => int.Parse(h[..h.IndexOf(':', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture)).ToArray(), cancellationToken).ConfigureAwait(false);
                _deleted.UnionWith(processed);
            }
        }

        /// <summary>POP3 has no IDLE; the reader waits, and a new session sees new mail.</summary>
        public Task WaitForMailAsync(TimeSpan most, CancellationToken cancellationToken) => Task.Delay(most, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (client.IsConnected)
                {
                    // QUIT commits the deletions.
                    await client.DisconnectAsync(quit: true).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or Pop3ProtocolException or Pop3CommandException)
            {
                // The deletions are lost with the session; the mail is read again and changes nothing twice.
            }

            client.Dispose();
        }
    }
}
