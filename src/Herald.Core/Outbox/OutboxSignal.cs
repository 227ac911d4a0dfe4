namespace Herald.Outbox;

/// <summary>Wakes idle delivery workers when new work is committed, instead of waiting for the
/// next poll.</summary>
public sealed class OutboxSignal : WakeSignal;
