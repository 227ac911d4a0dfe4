namespace Herald.Relay;

/// <summary>DATA (RFC 5321 §4.1.1.4): the message, then the gate's verdict on it.</summary>
internal sealed record DataCommand : SmtpCommand
{
    public override SmtpVerb Verb => SmtpVerb.Data;

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        await session.ReplyAsync(SmtpReplies.StartData, cancellationToken).ConfigureAwait(false);
        var transaction = session.Transaction!;
        session.ResetTransaction();
        SmtpReply? reply;
        // The spool file, if the message needed one, is gone before the client hears the verdict,
        // and whatever else ends the session (a timeout, a dropped connection) removes it too.
        using (var data = new DataSink(session.Spool, session.Options.SpoolThresholdBytes, transaction.DeclaredSize))
        {
            reply = await ReceiveAsync(session, transaction, data).ConfigureAwait(false);
        }

        if (reply is null)
        {
            return CommandOutcome.Close;
        }

        await session.ReplyAsync(reply, cancellationToken).ConfigureAwait(false);
        return CommandOutcome.Completed;
    }

    /// <summary>The reply to the message; null when the client went away before its end.</summary>
    private static async ValueTask<SmtpReply?> ReceiveAsync(RelaySession session, RelayTransaction transaction, DataSink data)
    {
        var outcome = await session.ReadDataAsync(data).ConfigureAwait(false);
        if (outcome == DataOutcome.Disconnected)
        {
            return null;
        }

        if (outcome != DataOutcome.Complete)
        {
            var refusal = outcome switch
            {
                DataOutcome.BareLineEnd => SmtpReplies.BareLineEnd,
                DataOutcome.LineTooLong => SmtpReplies.TextLineTooLong,
                _ => SmtpReplies.MessageTooLarge,
            };
            session.MessageRefused(refusal);
            return refusal;
        }

        // A fresh timeout: the transfer may have used up the one DATA started with.
        using var timeout = session.StartTimeout(session.Options.CommandTimeout);
        var envelope = new RelayEnvelope(transaction.Sender, [.. transaction.Recipients], transaction.EightBitMime, transaction.SmtpUtf8);
        var message = await data.CompleteAsync(timeout.Token).ConfigureAwait(false);
        // Checkpoint: the gate answers 250 only once the message is durable in the outbox;
        // its reply, whatever it is, is what the client gets.
        var reply = await session.Gate.AcceptAsync(session.Info, envelope, message, timeout.Token).ConfigureAwait(false);
        session.MessageAnswered(envelope, data.Length, reply);
        return reply;
    }
}
