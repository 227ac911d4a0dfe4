using Herald.Outbox;
using Herald.Work;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Queue;

/// <summary>One message: its recipients, every attempt with the upstream's reply, Retry and Cancel.</summary>
public sealed class MessageModel(IOutboxStore outbox, FailedWorkService failed, TimeProvider time) : ConsolePage
{
    public MessageDetails Details { get; private set; } = null!;

    public bool CanRetry => Details.Message.Recipients.Any(r => r.State is RecipientState.Deferred or RecipientState.Expired or RecipientState.Queued or RecipientState.Failed);

    public bool CanCancel => Details.Message.Recipients.Any(r => r.State.IsPending());

    public async Task<IActionResult> OnGetAsync(string? id) => await LoadAsync(id) ?? Page();

    public async Task<IActionResult> OnPostRetryAsync(string? id)
    {
        if (await LoadAsync(id) is { } refused)
        {
            return refused;
        }

        var retried = await failed.RetryMessageAsync(Caller, Details.Message.Id, HttpContext.RequestAborted);
        if (retried.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Notice = retried.Value > 0 ? $"{retried.Value} recipient(s) will be tried again now." : "No recipient was waiting to be retried.";
        return Redirect($"/queue/message?id={Uri.EscapeDataString(Details.Message.Id)}");
    }

    public async Task<IActionResult> OnPostCancelAsync(string? id)
    {
        if (await LoadAsync(id) is { } refused)
        {
            return refused;
        }

        var changed = await outbox.CancelAsync(Details.Message.Id, time.GetUtcNow(), HttpContext.RequestAborted);
        Notice = changed > 0 ? $"Cancelled {changed} recipient(s): they will not be sent." : "Every recipient was already delivered or finished.";
        return Redirect($"/queue/message?id={Uri.EscapeDataString(Details.Message.Id)}");
    }

    private async Task<IActionResult?> LoadAsync(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 100 || await outbox.GetAsync(id, HttpContext.RequestAborted) is not { } details)
        {
            return NotFound();
        }

        if (!Admin.Administers(details.Message.Scope))
        {
            return RefuseScope(details.Message.Scope);
        }

        Details = details;
        return null;
    }
}
