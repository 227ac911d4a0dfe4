using Herald.Outbox;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Queue;

/// <summary>One message: its recipients, every attempt with the upstream's reply, Retry and Cancel
/// (<see cref="QueueService"/> decides who may).</summary>
public sealed class MessageModel(QueueService queue) : ConsolePage
{
    public MessageDetails Details { get; private set; } = null!;

    public bool CanRetry => Details.Message.Recipients.Any(r => r.State is RecipientState.Deferred or RecipientState.Expired or RecipientState.Queued or RecipientState.Failed);

    public bool CanCancel => Details.Message.Recipients.Any(r => r.State.IsPending());

    public async Task<IActionResult> OnGetAsync(string? id)
    {
        var found = await queue.ShowAsync(Caller, id, HttpContext.RequestAborted);
        if (found.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Details = found.Value!;
        return Page();
    }

    public async Task<IActionResult> OnPostRetryAsync(string? id)
    {
        var retried = await queue.RetryAsync(Caller, id, HttpContext.RequestAborted);
        if (retried.Refusal is { } refusal)
        {
            return Refused(refusal, () => Redirect("/queue"));
        }

        var changed = retried.Value!.Recipients;
        Notice = changed > 0 ? $"{changed} recipient(s) will be tried again now." : "No recipient was waiting to be retried.";
        return Redirect($"/queue/message?id={Uri.EscapeDataString(retried.Value.Message.Message.Id)}");
    }

    public async Task<IActionResult> OnPostCancelAsync(string? id)
    {
        var cancelled = await queue.CancelAsync(Caller, id, HttpContext.RequestAborted);
        if (cancelled.Refusal is { } refusal)
        {
            return Refused(refusal, () => Redirect("/queue"));
        }

        var changed = cancelled.Value!.Recipients;
        Notice = changed > 0 ? $"Cancelled {changed} recipient(s): they will not be sent." : "Every recipient was already delivered or finished.";
        return Redirect($"/queue/message?id={Uri.EscapeDataString(cancelled.Value.Message.Message.Id)}");
    }
}
