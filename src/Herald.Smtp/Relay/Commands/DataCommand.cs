namespace Herald.Relay;

/// <summary>DATA (RFC 5321 §4.1.1.4): the message, then the gate's verdict on it.</summary>
internal sealed record DataCommand : SmtpCommand
{
    public override SmtpVerb Verb => SmtpVerb.Data;

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        await session.ReplyAsync(SmtpReplies.StartData, cancellationToken).ConfigureAwait(false);
        var transaction = session.Transaction!;
        // Removed with its spool file, if it has one, whatever happens from here on.
        using var data = new DataSink(session.Spool, session.Options.SpoolThresholdBytes, transaction.DeclaredSize);
        var outcome = await session.ReadDataAsync(data).ConfigureAwait(false);
        session.ResetTransaction();
        if (outcome == DataOutcome.Disconnected)
        {
            return CommandOutcome.Close;
        }

        SmtpReply reply;
        if (outcome != DataOutcome.Complete)
        {
            reply = outcome switch
            {
                DataOutcome.BareLineEnd => SmtpReplies.BareLineEnd,
                DataOutcome.LineTooLong => SmtpReplies.TextLineTooLong,
                _ => SmtpReplies.MessageTooLarge,
            };
            session.MessageRefused(reply);
        }
        else
        {
            // A fresh timeout: the transfer may have used up the one DATA started with.
            using var timeout = session.StartTimeout(session.Options.CommandTimeout);
            var envelope = new RelayEnvelope(transaction.Sender, [.. transaction.Recipients], transaction.EightBitMime, transaction.SmtpUtf8);
            var message = await data.CompleteAsync(timeout.Token).ConfigureAwait(false);
            // Checkpoint: the gate answers 250 only once the message is durable in the outbox;
            // its reply, whatever it is, is what the client gets.
            reply = await session.Gate.AcceptAsync(session.Info, envelope, message, timeout.Token).ConfigureAwait(false);
            session.MessageAnswered(envelope, data.Length, reply);
        }

        await session.ReplyAsync(reply, cancellationToken).ConfigureAwait(false);
        return CommandOutcome.Completed;
    }
}
