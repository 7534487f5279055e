namespace Automations.Testing;

public static class Eventually
{
    /// <summary>Polls until <paramref name="condition"/> holds; throws with <paramref name="because"/> after the timeout.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, string because, TimeSpan? timeout = null, TimeSpan? interval = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            if (await condition()) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Timed out waiting until " + because);
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(100));
        }
    }
}
