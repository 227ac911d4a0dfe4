using System.Net.Sockets;
using Herald.Bounces;
using Herald.Delivery;
using Herald.Settings;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Search;
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
                var folder = (ImapFolder)await imap.GetFolderAsync(settings.Folder, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// The next batch from <paramref name="waiting"/> (in mailbox order, with the server's sizes),
    /// decided before anything is downloaded: every message up to the first whose body would take
    /// the batch past <see cref="FetchLimits.BatchBytes"/> (the first body is always taken), and of
    /// those, the ones small enough to read (<see cref="FetchLimits.MessageBytes"/>; a larger one is
    /// in the batch, to be kept unread, but costs nothing).
    /// </summary>
    private static (List<T> Batch, List<T> Small) Budget<T>(IEnumerable<(T Item, long Size)> waiting, FetchLimits limits)
    {
        var batch = new List<T>();
        var small = new List<T>();
        long bytes = 0;
        foreach (var (item, size) in waiting)
        {
            if (size <= limits.MessageBytes)
            {
                if (small.Count > 0 && bytes + size > limits.BatchBytes)
                {
                    break;
                }

                bytes += size;
                small.Add(item);
            }

            batch.Add(item);
        }

        return (batch, small);
    }

    /// <summary>A message not read because the server says it is larger than <paramref name="maxBytes"/>.</summary>
    private static FetchedMail TooLarge(string handle, long size, long maxBytes) =>
        new(handle, null, $"{size:N0} bytes, more than the {maxBytes:N0} read");

    /// <summary>A downloaded message; a broken one comes back without its MIME.</summary>
    private static async Task<FetchedMail> ParseAsync(string handle, Stream stream, CancellationToken cancellationToken)
    {
        try
        {
            return new FetchedMail(handle, await MimeMessage.LoadAsync(stream, cancellationToken).ConfigureAwait(false), null);
        }
        catch (FormatException ex)
        {
            return new FetchedMail(handle, null, $"not MIME: {ex.Message}");
        }
    }

    /// <summary>
    /// A batch costs three commands whatever its size (UID SEARCH, the sizes, then the bodies in one
    /// UID FETCH), not a round trip per message. Settled mail is marked <c>\Deleted</c> (kept mail
    /// copied to the unmatched folder first) and stays in the folder until <see cref="CommitAsync"/>
    /// expunges it all at once; meanwhile the session fetches only UIDs above the highest it has
    /// handed out. Mail a session marked but did not expunge (it died) is read again by the next.
    /// </summary>
    private sealed class ImapSession(ImapClient client, ImapFolder folder) : IBounceMailboxSession
    {
        private readonly List<UniqueId> _marked = [];
        private IMailFolder? _unmatched;
        private uint _fetched;

        public bool MovesKeptMail => true;

        public bool StaysCurrent => true;

        public async Task<IReadOnlyList<FetchedMail>> FetchAsync(FetchLimits limits, IReadOnlySet<string> skip, CancellationToken cancellationToken)
        {
            if (folder.Count == 0)
            {
                return [];
            }

            var query = _fetched == 0 ? SearchQuery.All : SearchQuery.Uids(new UniqueIdRange(new UniqueId(_fetched + 1), UniqueId.MaxValue));
            var found = await folder.SearchAsync(query, cancellationToken).ConfigureAwait(false);
            // "n:*" also matches the last message when its UID is below n.
            var uids = found.Where(u => u.Id > _fetched).OrderBy(u => u.Id).Take(limits.Messages).ToList();
            if (uids.Count == 0)
            {
                return [];
            }

            var summaries = await folder.FetchAsync(uids, MessageSummaryItems.UniqueId | MessageSummaryItems.Size, cancellationToken).ConfigureAwait(false);
            var (batch, small) = Budget(summaries.OrderBy(s => s.UniqueId.Id).Select(s => (s, (long)(s.Size ?? 0))), limits);
            // What the budget left out is found again by the next search (UIDs above the last taken).
            _fetched = batch.Count > 0 ? batch[^1].UniqueId.Id : uids[^1].Id;
            var read = new Dictionary<UniqueId, FetchedMail>(small.Count);
            if (small.Count > 0)
            {
                await folder.GetStreamsAsync(small.Select(s => s.UniqueId).ToList(), async (_, _, uid, stream, token) => read[uid] = await ParseAsync(Handle(uid), stream, token).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            }

            // A message another client expunged meanwhile has no body and is not returned.
            return batch
                .Select(s => (s.Size ?? 0) > limits.MessageBytes ? TooLarge(Handle(s.UniqueId), s.Size ?? 0, limits.MessageBytes) : read.GetValueOrDefault(s.UniqueId))
                .OfType<FetchedMail>()
                .ToList();
        }

        public async Task SettleAsync(IReadOnlyList<string> processed, IReadOnlyList<string> kept, CancellationToken cancellationToken)
        {
            if (kept.Count > 0)
            {
                // Copied now, the original expunged with the rest (a MOVE would expunge once per batch);
                // a session that dies between the two leaves a second copy, never none.
                _unmatched ??= await UnmatchedFolderAsync(cancellationToken).ConfigureAwait(false);
                await folder.CopyToAsync(Uids(kept), _unmatched, cancellationToken).ConfigureAwait(false);
            }

            var settled = Uids(processed.Concat(kept).ToArray());
            if (settled.Length > 0)
            {
                await folder.AddFlagsAsync(settled, MessageFlags.Deleted, silent: true, cancellationToken).ConfigureAwait(false);
                _marked.AddRange(settled);
            }
        }

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            if (_marked.Count == 0)
            {
                return;
            }

            if (client.Capabilities.HasFlag(ImapCapabilities.UidPlus))
            {
                await folder.ExpungeAsync(_marked, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await folder.ExpungeAsync(cancellationToken).ConfigureAwait(false);
            }

            _marked.Clear();
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

        private static string Handle(UniqueId uid) => uid.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

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

        public async Task<IReadOnlyList<FetchedMail>> FetchAsync(FetchLimits limits, IReadOnlySet<string> skip, CancellationToken cancellationToken)
        {
            // POP3 shows a mailbox as it was at sign-in and deletes at QUIT: a session reads what was
            // there at sign-in, batch after batch, skipping what it has marked deleted or kept.
            if (client.Count == 0)
            {
                return [];
            }

            var uids = client.SupportsUids ? await client.GetMessageUidsAsync(cancellationToken).ConfigureAwait(false) : null;
            var sizes = await client.GetMessageSizesAsync(cancellationToken).ConfigureAwait(false);
            var waiting = new List<(string Handle, int Index)>();
            for (var i = 0; i < client.Count && waiting.Count < limits.Messages; i++)
            {
                var handle = $"{i}:{uids?[i] ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
                if (!skip.Contains(handle) && !_deleted.Contains(handle))
                {
                    waiting.Add((handle, i));
                }
            }

            var (batch, small) = Budget(waiting.Select(w => (w, (long)sizes[w.Index])), limits);
            var fetched = new List<FetchedMail?>(batch.Count);
            var wanted = new List<(int Index, int Slot, string Handle)>(small.Count);
            foreach (var (handle, index) in batch)
            {
                if (sizes[index] > limits.MessageBytes)
                {
                    fetched.Add(TooLarge(handle, sizes[index], limits.MessageBytes));
                }
                else
                {
                    wanted.Add((index, fetched.Count, handle));
                    fetched.Add(null);
                }
            }

            if (wanted.Count > 0)
            {
                // One pipelined RETR per message when the server has PIPELINING, not a round trip each.
                var streams = await client.GetStreamsAsync(wanted.Select(w => w.Index).ToArray(), headersOnly: false, cancellationToken).ConfigureAwait(false);
                try
                {
                    foreach (var (want, stream) in wanted.Zip(streams))
                    {
                        fetched[want.Slot] = await ParseAsync(want.Handle, stream, cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    foreach (var stream in streams)
                    {
                        await stream.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }

            return fetched.OfType<FetchedMail>().ToList();
        }

        public async Task SettleAsync(IReadOnlyList<string> processed, IReadOnlyList<string> kept, CancellationToken cancellationToken)
        {
            if (processed.Count > 0)
            {
                await client.DeleteMessagesAsync(processed.Select(h => int.Parse(h[..h.IndexOf(':', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture)).ToArray(), cancellationToken).ConfigureAwait(false);
                _deleted.UnionWith(processed);
            }
        }

        /// <summary>Nothing: QUIT, when the session ends, commits the deletions.</summary>
        public Task CommitAsync(CancellationToken cancellationToken) => Task.CompletedTask;

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
