/* bench_ckpt.c: placeholder. */
int main(void)
{
    return 0;
}
